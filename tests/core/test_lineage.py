"""Lineage: who made a change, and the git state of the code around it."""

from __future__ import annotations

import subprocess

import pytest

from mreg.core.lineage import current_user, git_state
from mreg.errors import UsageError


def test_mreg_user_wins(monkeypatch):
    monkeypatch.setenv("MREG_USER", "  someone@example.com ")
    assert current_user() == "someone@example.com"


def test_a_user_that_is_not_text_is_refused(monkeypatch):
    monkeypatch.setenv("MREG_USER", "bad\udcff")
    with pytest.raises(UsageError):
        current_user()


def test_git_email_when_no_mreg_user(monkeypatch, tmp_path):
    monkeypatch.delenv("MREG_USER")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.email", "git@example.com"], check=True)
    assert current_user(str(tmp_path)) == "git@example.com"


def test_git_state_outside_and_inside_a_checkout(tmp_path):
    assert git_state(str(tmp_path)) == {}
    run = ["git", "-C", str(tmp_path), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert git_state(str(tmp_path)) == {}  # no commit yet
    (tmp_path / "f").write_text("a")
    subprocess.run([*run, "add", "f"], check=True)
    subprocess.run([*run, "commit", "-qm", "c"], check=True)
    head = subprocess.run([*run, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    assert git_state(str(tmp_path)) == {"git_commit": head, "git_dirty": False}
    (tmp_path / "f").write_text("b")
    assert git_state(str(tmp_path)) == {"git_commit": head, "git_dirty": True}
