"""`mreg init` in a git repository: the registry's bulky and volatile parts stay out of git."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_git_add_all_stages_no_model_bytes(mreg, project, tmp_path):
    _git(project, "init", "-q")
    (project / "train.py").write_text("print('training')\n")
    (project / "model.bin").write_bytes(b"model weights " * 100)
    mreg("register", "m", "model.bin", "-q")
    (project / "model.bin").unlink()  # as a job that keeps only what it registered
    mreg("remote", "add", "origin", tmp_path / "team-remote", "-q")
    mreg("push", "-q")  # leaves what this copy knows of the remote in .mreg/remotes/
    assert (project / ".mreg" / "remotes").is_dir()
    _git(project, "add", ".")
    staged = _git(project, "diff", "--cached", "--name-only").split()
    assert "train.py" in staged
    assert ".mreg/.gitignore" in staged and ".mreg/config.toml" in staged
    assert ".mreg/models/m/_index.json" in staged and ".mreg/models/m/_history.jsonl" in staged
    leaked = [p for p in staged if p.startswith((".mreg/objects/", ".mreg/intake/", ".mreg/cache/", ".mreg/lock",
                                                ".mreg/remotes/"))]
    assert leaked == []
    # A user's own .gitignore is kept as it is by a later init.
    (project / ".mreg/.gitignore").write_text("*\n")
    mreg("init")
    assert (project / ".mreg/.gitignore").read_text() == "*\n"
    _git(project, "check-ignore", "-q", "--no-index", ".mreg/models/m/_index.json")  # exit 0: ignored now
