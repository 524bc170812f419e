"""Notices: the core never prints a warning itself; it hands it to the current handler."""

from __future__ import annotations

from mreg.core import notices


def test_a_warning_goes_to_stderr_on_one_escaped_line(capsys):
    notices.warn("skipped \x1b[2J file\nname")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "mreg: warning: skipped \\x1b[2J file\\nname\n"


def test_a_replaced_handler_receives_the_message(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(notices, "handler", seen.append)
    notices.warn("look")
    assert seen == ["look"] and capsys.readouterr().err == ""
