"""Who made a change, and from which code: the user and the git state of the working directory."""

from __future__ import annotations

import getpass
import os
import subprocess

from mreg.core.text import check_text


def _git(args: list[str], cwd: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    # Bytes that are not UTF-8 (a file name in `git status`) kept as surrogates, never a crash.
    return done.stdout.decode("utf-8", "surrogateescape").strip() if done.returncode == 0 else None


def _inside_git(start: str) -> bool:
    # Look for .git ourselves: spawning git outside a repository costs a process for nothing.
    here = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return True
        parent = os.path.dirname(here)
        if parent == here:
            return False
        here = parent


def current_user(cwd: str | None = None) -> str:
    """MREG_USER, else git's user.email, else the login name."""
    user = (os.environ.get("MREG_USER") or "").strip()
    if user:
        return check_text(user, "MREG_USER")
    email = _git(["config", "user.email"], cwd or os.getcwd())
    if email:
        return check_text(email, "git's user.email", hint="fix it, or set MREG_USER")
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid-{os.getuid()}"
    return check_text(login, "the login name (LOGNAME or USER)", hint="set MREG_USER")


def git_state(cwd: str | None = None) -> dict:
    """The commit and dirty flag of the git checkout around `cwd`, or {} outside one."""
    cwd = cwd or os.getcwd()
    if not _inside_git(cwd):
        return {}
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return {}
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"git_commit": commit, "git_dirty": bool(status)}
