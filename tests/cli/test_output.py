"""Human output: plain, whole lines when piped; tables, panels, colour and human
units at a real terminal (a pty); JSON untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mregtest import run_on_pty
from mreg.cli import output


def _run_on_pty(args: list[str], cwd, *, stream: str, columns: int = 100) -> tuple[str, str]:
    """Run mreg with `stream` ("stdout" or "stderr") on a pseudo-terminal and the
    other piped; return (what the pty showed, the piped text)."""
    env = dict(os.environ)
    if stream == "stdout":
        env.pop("NO_COLOR", None)
    run = run_on_pty(args, cwd, stream=stream, columns=columns, env=env)
    assert run.code == 0, run.piped
    return run.drawn.decode(), run.piped.decode()


def at_terminal(args: list[str], cwd, columns: int = 100) -> str:
    """Run mreg with stdout on a pseudo-terminal; return what it drew."""
    return _run_on_pty(args, cwd, stream="stdout", columns=columns)[0]


def test_human_units():
    assert output.human_size(0) == "0 B" and output.human_size(1536) == "1.5 KiB"
    assert output.human_size(5 << 30) == "5.0 GiB"
    assert output.human_count(360_000) == "360.0K"
    assert output._ago_words(3 * 3600 + 5) == "3 hours ago"
    assert output._ago_words(5) == "just now"
    assert output.short_digest("sha256:" + "a" * 64) == "sha256:aaaaaaaaaaaa…"
    assert output.short_user("alice@example.com") == "alice"


def test_piped_output_is_whole_lines(mreg, project):
    long_name = "team/" + "a" * 150
    (project / "m.bin").write_bytes(b"x" * 5000)
    mreg("register", long_name, "m.bin", "-m", "accuracy=0.9", "-t", "team=nlp", "--description", "d " * 100, "-q")
    listed = mreg("list").out.splitlines()
    assert listed[0].split("\t")[:4] == [long_name, "1", "1.0.0", "-"]
    assert listed[0].split("\t")[4].endswith("Z")  # ISO when piped
    shown = mreg("show", f"{long_name}@1.0.0").out
    assert f"name: {long_name}\n" in shown and "size: 5000\n" in shown and "metrics.accuracy: 0.9\n" in shown
    assert "\x1b[" not in shown
    events = mreg("history").out.splitlines()
    assert events[0].split("\t")[1:5] == ["tester@example.com", "register", long_name, "1.0.0"]
    doc = mreg("show", f"{long_name}@1.0.0", "--json").json
    assert doc["size"] == 5000 and doc["created_at"].endswith("Z")


def test_terminal_output_is_drawn(mreg, project):
    (project / "m.bin").write_bytes(b"x" * 5000)
    mreg("register", "sentiment", "m.bin", "-m", "accuracy=0.9", "-m", "loss=0.3", "-t", "team=nlp", "-q")
    mreg("register", "sentiment", "m.bin", "-m", "accuracy=0.95", "-m", "loss=0.2", "-q")
    mreg("promote", "sentiment@1.0.1", "--to", "production", "--reason", "better", "-q")
    panel = at_terminal(["show", "sentiment@1.0.1"], project)
    assert "╭" in panel and "sentiment@1.0.1" in panel and "4.9 KiB" in panel
    assert "metrics" in panel and "accuracy" in panel and "\x1b[" in panel  # coloured stage
    listing = at_terminal(["list"], project)
    assert "NAME" in listing and "PRODUCTION" in listing and ("ago" in listing or "just now" in listing)
    history = at_terminal(["history"], project, columns=80)
    assert "staging → production" in history.replace("\x1b[0m", "").replace("\x1b[1;32m", "").replace("\x1b[33m", "")
    diff = at_terminal(["diff", "sentiment@1.0.0", "sentiment@1.0.1"], project)
    assert "↑ +0.05" in diff and "↓ -0.1" in diff


def test_help_summaries_fit(mreg):
    out = mreg("--help").out
    assert "diff" in out and "..." not in out.split("Registering:", 1)[1]


def _stderr_at_terminal(args: list[str], cwd) -> tuple[str, str]:
    """Run mreg with stderr on a pseudo-terminal and stdout piped; return (stdout, what stderr drew)."""
    drawn, out = _run_on_pty(args, cwd, stream="stderr")
    return out, drawn


def test_progress_bars_only_at_a_terminal_and_only_for_large_work(mreg, project):
    big = project / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(80 << 20)  # sparse: fast to read, large enough for a bar
    out, drawn = _stderr_at_terminal(["register", "big", "big.bin"], project)
    assert "storing big.bin" in drawn and out.startswith("registered big@1.0.0")
    out, drawn = _stderr_at_terminal(["verify"], project)
    assert "verifying" in drawn and "80.0 MiB" in drawn and out.startswith("ok:")
    out, drawn = _stderr_at_terminal(["get", "big", "-o", "copy.bin"], project)
    assert "writing big@1.0.0" in drawn
    mreg("rm", "big@1.0.0")
    out, drawn = _stderr_at_terminal(["gc", "--grace", "0s"], project)
    assert "collecting" in drawn and "freed 1 object," in out
    piped = mreg("verify")
    assert piped.err == "" and piped.out.startswith("ok:")
    (project / "small.bin").write_bytes(b"tiny")
    out, drawn = _stderr_at_terminal(["register", "small", "small.bin"], project)
    assert "storing" not in drawn


def test_a_reader_that_stops_early_gets_the_sigpipe_status_not_refused(mreg, project, registry):
    # `mreg history | head -1` under `set -o pipefail`: 141 as for any writer
    # killed by SIGPIPE, never 1 ("refused or not found"), and no error line.
    (project / "m.bin").write_bytes(b"x")
    registry.register("m", str(project / "m.bin"))
    for i in range(12):
        registry.update("m@1.0.0", metrics=[f"i={i}"], reason="r" * 10_000)
    process = subprocess.Popen([sys.executable, "-m", "mreg", "history"], cwd=project, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=60) == 141 and err == b""


# Text that drives a terminal: clear the screen, set the window title, a C1
# CSI (ESC [ in one character), and a right-to-left override.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil"
HOSTILE_SEQUENCES = ("\x1b[2J", "\x1b]0;", "\x07", "\x9b", "\u202e")


def _assert_no_user_controls(drawn: str, where: str) -> None:
    for sequence in HOSTILE_SEQUENCES:
        assert sequence not in drawn, f"{sequence!r} reached the terminal in {where}: {drawn!r}"


def test_user_text_never_drives_the_terminal(mreg, project):
    # Every kind of text a version carries, at a terminal: it is shown escaped
    # exactly as when piped, in tables, panels, history and diff alike.
    artifact = project / f"m{HOSTILE[:4]}.bin"
    artifact.write_bytes(b"x")
    (project / "meta.json").write_text(json.dumps({"custom": {"k": HOSTILE}, "params": {"p": HOSTILE}}))
    env = {"MREG_USER": f"ana{HOSTILE}@example.com"}
    mreg("register", "m", str(artifact), "-t", f"t={HOSTILE}", "-t", "k\x9b31m\u202e=x", "-m", "accuracy=0.5",
         "--description", HOSTILE, "--framework", HOSTILE, "--reason", HOSTILE, "--dataset", f"train=s3://{HOSTILE}",
         "--metadata-file", "meta.json", "-q", env=env)
    mreg("register", "m", "meta.json", "-t", "t=plain", "-q")
    mreg("update", "m@1.0.0", "-p", f"q={HOSTILE}", "--reason", HOSTILE, "-q", env=env)
    for args in (["show", "m@1.0.0"], ["show", "m"], ["list"], ["history"], ["history", "m@1.0.0"],
                 ["diff", "m@1.0.0", "m@1.0.1"], ["search", "name = 'm'"]):
        drawn = at_terminal(args, project, columns=200)
        _assert_no_user_controls(drawn, " ".join(args))
        piped = mreg(*args).out
        _assert_no_user_controls(piped, " ".join(args) + " (piped)")
    panel = at_terminal(["show", "m@1.0.0"], project, columns=200)
    assert "\\x1b[2J" in panel and "\\u202e" in panel  # shown, as escapes


def test_user_text_in_an_error_never_drives_the_terminal(mreg, project):
    drawn = _run_on_pty_status(["show", f"m{HOSTILE}"], project)
    _assert_no_user_controls(drawn, "an error")
    assert "mreg: error:" in drawn


def _run_on_pty_status(args: list[str], cwd) -> str:
    """What a failing mreg drew with stderr on a pseudo-terminal."""
    run = run_on_pty(args, cwd, stream="stderr")
    assert run.code != 0
    return run.drawn.decode()


def test_a_file_name_in_a_progress_bar_never_drives_the_terminal(project):
    big = project / "big\x1b[2J[bold]x\u202e.bin"
    with open(big, "wb") as handle:
        handle.truncate(80 << 20)  # sparse: large enough for a bar
    out, drawn = _stderr_at_terminal(["register", "big", big.name], project)
    assert "storing big" in drawn and out.startswith("registered big@1.0.0")
    _assert_no_user_controls(drawn, "the progress bar")
    assert "[bold]x" in drawn  # shown as written, not read as markup


def test_the_register_bar_moves_with_the_bytes_hashed(project):
    # Random bytes (not a sparse file) so the copy and hash take a few of the
    # bar's refreshes (ten a second); the deterministic count of updates is in
    # tests/core/test_progress.py.
    big = project / "random.bin"
    with open(big, "wb") as handle:
        for _ in range(25):
            handle.write(os.urandom(8 << 20))  # 200 MiB
    _, drawn = _stderr_at_terminal(["register", "random", "random.bin"], project)
    import re

    shown = {float(done) for done in re.findall(r"(\d+\.\d)/200\.0 MiB", drawn)}
    assert any(0 < done < 200 for done in shown), f"the bar never showed a step between 0 and 200 MiB: {sorted(shown)}"


def test_numbers_are_exact_when_piped_and_rounded_alike_at_a_terminal(mreg, project):
    (project / "a.bin").write_bytes(b"a")
    mreg("register", "s", "a.bin", "-m", "acc=0.9736842105263158", "-m", "f1=0.91", "-m", "tokens=123456789.5",
         "-p", "lr=0.00031622776601683794", "-q")
    (project / "a.bin").write_bytes(b"b")
    mreg("register", "s", "a.bin", "-m", "acc=0.95", "-m", "f1=0.93", "-m", "tokens=123456790.25", "-q")
    # Piped and --json: the float itself, and differences without binary noise.
    assert "metrics.acc: 0.9736842105263158" in mreg("show", "s@1.0.0").out.splitlines()
    diff = {line.split("\t")[0]: line.split("\t")[1:] for line in mreg("diff", "s@1.0.0", "s@1.0.1").out.splitlines()}
    assert diff["metrics.acc"] == ["0.9736842105263158", "0.95", "-0.0236842105263158"]
    assert diff["metrics.f1"] == ["0.91", "0.93", "+0.02"]  # not 0.020000000000000018
    assert diff["metrics.tokens"] == ["123456789.5", "123456790.25", "+0.75"]
    assert mreg("diff", "s@1.0.0", "s@1.0.1", "--json").json["metrics"]["f1"]["delta"] == 0.02
    searched = mreg("search", "metrics.acc > 0.96").out.split("\t")
    assert searched[3] == "0.9736842105263158"
    # At a terminal: 6 significant digits in show, diff and search alike, and no exponent.
    assert "0.973684" in at_terminal(["show", "s@1.0.0"], project)
    assert "0.000316228" in at_terminal(["show", "s@1.0.0"], project)
    shown = at_terminal(["diff", "s@1.0.0", "s@1.0.1"], project)
    assert "0.973684" in shown and "-0.0236842" in shown and "123456790" in shown and "e+08" not in shown
    found = at_terminal(["search", "metrics.acc > 0.96"], project)
    assert "0.973684" in found and "0.9736842105263158" not in found
    assert output.number(0.9736842105263158, terminal=True) == "0.973684"
    assert output.number(0.9736842105263158, terminal=False) == "0.9736842105263158"
    assert output.number(3, terminal=True) == "3"
