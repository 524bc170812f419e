"""A pull that re-applies local events, killed at every write, fsync and rename it makes (strace sweep)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mregtest import Mreg
from reliability.rel import FULL, STRACE, tally

from .test_remotes import fill, registry

# Renames and truncations are where each step of the re-application commits; the full run also kills
# at every write and fsync.
SWEPT = ["rename", "renameat", "renameat2", "ftruncate"] + (["write", "fsync", "unlink", "unlinkat"] if FULL else [])


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_a_rebasing_pull_killed_at_every_write_loses_nothing(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    Mreg(tmp_path)("clone", url, tmp_path / "b", "-q")
    (a.cwd / "model.bin").write_bytes(b"theirs")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("push", "-q")
    b = Mreg(tmp_path / "b")
    (b.cwd / "model.bin").write_bytes(b"ours")
    b("register", "sentiment", b.cwd / "model.bin", "-q", "-t", "side=ours")
    b("update", "sentiment@1.0.1", "-m", "accuracy=0.5", "-q")
    pristine_remote = tmp_path / "remote-pristine"
    shutil.copytree(url, pristine_remote, symlinks=True)
    kills = 0
    for call in SWEPT:
        n = 1
        while True:
            work = tmp_path / f"run-{call}-{n}"
            shutil.copytree(b.cwd, work, symlinks=True)
            argv = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}",
                    "-e", f"inject={call}:signal=KILL:when={n}", sys.executable, "-m", "mreg", "pull", "-q"]
            done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL)
            assert "Traceback" not in done.stderr, done.stderr
            killed = done.returncode == -9 or "killed by SIGKILL" in done.stderr
            run = Mreg(work)
            run("verify", "-q")  # whatever the moment, the registry verifies
            run("push", "-q", expect=None)  # a push first must not lose the stashed events either
            run("pull", "-q")  # and the next pull completes
            versions = {v["version"]: v for v in run("show", "sentiment", "--json").json}
            assert sorted(versions) == ["1.0.0", "1.0.1", "1.0.2"], (call, n)
            assert versions["1.0.1"]["tags"] == {"run": "r0"} or versions["1.0.1"]["tags"] == {}
            assert versions["1.0.2"]["tags"] == {"side": "ours"} and versions["1.0.2"]["metrics"] == {"accuracy": 0.5}
            run("verify", "--rebuild-index", "-q")
            shutil.rmtree(work)
            shutil.rmtree(url)  # the push above changed the remote: every run starts from the same one
            shutil.copytree(pristine_remote, url, symlinks=True)
            if not killed:
                break
            kills += 1
            n += 1
    tally("remote: SIGKILL at the N-th syscall of a rebasing pull", kills)
    assert kills >= 4
