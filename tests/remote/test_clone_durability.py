"""A clone is made durable once, at its end, and a clone killed at any moment leaves no registry."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mregtest import Mreg
from reliability.rel import STRACE, tally

from .test_remotes import fill, registry


def _remote(tmp_path) -> str:
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    for model in ("sentiment", "churn", "vision"):
        fill(a, 2, model)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    return url


def _syscalls(tmp_path, *args: str, cwd) -> dict[str, int]:
    """How often `mreg ARGS` calls fsync and syncfs (strace -c), the command succeeding."""
    out = tmp_path / "strace.txt"
    argv = ["strace", "-f", "-c", "-o", str(out), "-e", "trace=fsync,fdatasync,syncfs,sync",
            sys.executable, "-m", "mreg", *args]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    counts = {}
    for line in out.read_text().splitlines():
        words = line.split()
        if words and words[-1] in ("fsync", "fdatasync", "syncfs", "sync"):
            counts[words[-1]] = int(words[3])  # % time, seconds, usecs/call, calls, [errors,] syscall
    return counts


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
@pytest.mark.parametrize("lazy", [True, False], ids=["lazy", "full"])
def test_a_clone_flushes_once_at_its_end_and_a_pull_still_fsyncs_each_write(tmp_path, lazy):
    url = _remote(tmp_path)
    flags = ["--lazy"] if lazy else []
    counts = _syscalls(tmp_path, "clone", *flags, url, "b", "-q", cwd=tmp_path)
    # One syncfs for the whole tree; then the rename into place made durable in the project folder
    # and in the folder the clone created it in: nothing per file (before: 3-4 fsyncs per model).
    assert counts.get("syncfs", 0) + counts.get("sync", 0) == 1, counts
    assert counts.get("fsync", 0) <= 2, counts
    b = Mreg(tmp_path / "b")
    b("verify", "-q")
    assert {m["name"] for m in b("list", "--json").json} == {"sentiment", "churn", "vision"}
    # The deferral is the clone's alone: a pull into a registry in use fsyncs as it writes.
    a = Mreg(tmp_path / "a")
    fill(a, 1, "fresh")
    a("push", "-q")
    counts = _syscalls(tmp_path, "pull", "-q", cwd=tmp_path / "b")
    assert counts.get("fsync", 0) >= 3, counts  # the history, the index and the state, each durable


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_a_clone_killed_at_every_rename_leaves_no_registry_or_a_whole_one(tmp_path):
    url = _remote(tmp_path)
    kills = partial = 0
    n = 1
    while True:
        target = tmp_path / f"clone-{n}"
        argv = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
                "-e", f"inject=rename,renameat,renameat2:signal=KILL:when={n}",
                sys.executable, "-m", "mreg", "clone", url, str(target), "-q"]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stderr, done.stderr
        killed = done.returncode == -9 or "killed by SIGKILL" in done.stderr
        if not killed:
            Mreg(target)("verify", "-q")
            break
        kills += 1
        if (target / ".mreg" / "config.toml").exists():
            # What commands take for a registry must be whole: here, killed after the rename into
            # place, once everything was flushed.
            Mreg(target)("verify", "-q")
            assert len(Mreg(target)("list", "--json").json) == 3, n
        else:
            # Killed mid-clone: no command takes the folder for a registry...
            refused = Mreg(target)("list", expect=1)
            assert refused.err.startswith("mreg: error: not inside an mreg registry"), refused.err
            # ...and what the clone wrote is there (the kill did land midway), under a name that blocks
            # neither commands nor a new clone.
            assert not (target / ".mreg").exists(), n
            leftovers = [p for p in target.iterdir() if p.name.startswith(".mreg.clone-")]
            assert len(leftovers) == 1, list(target.iterdir())
            if (leftovers[0] / "models").exists() and any((leftovers[0] / "models").iterdir()):
                partial += 1
                if partial == 1:  # once is enough
                    Mreg(tmp_path)("clone", url, target, "-q")
                    Mreg(target)("verify", "-q")
        shutil.rmtree(target)
        n += 1
    tally("remote: SIGKILL at the N-th rename of a clone", kills)
    assert kills >= 5 and partial >= 2, (kills, partial)


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_the_cached_clone_of_a_remote_killed_midway_is_cleared_by_the_next_command(tmp_path):
    import os

    url = _remote(tmp_path)
    env = dict(os.environ, MREG_CACHE_DIR=str(tmp_path / "cache"))
    # `history --repo URL` works on the cached lazy clone; kill its making at the 5th rename (an index).
    argv = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
            "-e", "inject=rename,renameat,renameat2:signal=KILL:when=5",
            sys.executable, "-m", "mreg", "--repo", url, "history", "churn"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == -9 or "killed by SIGKILL" in done.stderr, done.stderr
    assert len(list((tmp_path / "cache").rglob(".mreg.clone-*"))) == 1  # killed mid-clone
    assert not list((tmp_path / "cache").rglob(".mreg"))
    history = Mreg(tmp_path)("--repo", url, "history", "churn", "--json", env=env).json
    assert len(history) >= 2
    assert not list((tmp_path / "cache").rglob(".mreg.clone-*"))
