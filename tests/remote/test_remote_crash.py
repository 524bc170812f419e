"""Killed remote operations: a rebasing pull killed at every write, fsync and rename it makes (strace sweep);
a push killed mid-upload and a direct write killed between its object and its log entry, on each backend."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mregtest import Mreg
from reliability.rel import FULL, STRACE, tally

from .serverside import ServerSide
from .test_remotes import fill, opts, registry

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


# --- kill -9 in the middle of an upload, on every backend ------------------------------------------------------


def _kill_when(proc: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    """SIGKILL `proc` (its whole session) as soon as `ready()` holds; fail if it finished first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"finished before {what}: {proc.stderr.read() if proc.stderr else ''}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def _large(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    return path


def _slow_options(url: str, options: dict) -> dict:
    """On S3, a multipart upload of 5 MiB parts one at a time (the path large files take, made long)."""
    if url.startswith("s3://"):
        return {**options, "multipart_threshold": str(5 << 20), "part_size": str(5 << 20), "max_concurrency": "1"}
    return dict(options)


def later(hours: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_push_killed_mid_upload_leaves_a_remote_that_verifies_and_gc_cleans(tmp_path, staging_remote):
    remote = staging_remote
    url, options = remote()
    options = _slow_options(url, options)
    server = ServerSide(url, options)
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    a("register", "sentiment", _large(a.cwd / "big.bin", 64), "-q")
    entry = "models/sentiment/_log/00000002.json"
    pushing = subprocess.Popen([sys.executable, "-m", "mreg", "push", "-q"], cwd=a.cwd, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    _kill_when(pushing, lambda: bool(server.object_uploads()) and not server.exists(entry), "the upload's temporary")
    left = server.leftovers()
    assert server.object_uploads() and not server.exists(entry)  # killed mid-upload: a temporary there, no entry
    a("verify", "--remote", "origin", "-q")
    assert a("verify", "--remote", "origin", "--json").json["checked"]["versions"] == 1
    a("push", "-q")  # the next push completes
    assert a("verify", "--remote", "origin", "--json").json["checked"]["versions"] == 2
    assert set(left) <= set(server.leftovers())  # a push does not clean up another's leftovers; gc does
    a("gc", "--remote", "origin", "--grace", "1h", "-q")
    assert set(left) <= set(server.leftovers())  # not yet older than the grace period
    done = a("gc", "--remote", "origin", "--grace", "1h", "--json", env={"MREG_NOW": later(2)}).json
    assert server.leftovers() == []
    assert done["leftovers"]["count"] == len(left)
    a("verify", "--remote", "origin", "-q")
    b = Mreg(tmp_path)
    b("clone", url, tmp_path / "b", *opts(options), "-q")
    assert Mreg(tmp_path / "b")("show", "sentiment@1.0.1", "--json").json["size"] == 64 << 20


def test_a_direct_write_killed_between_object_upload_and_log_entry(tmp_path, staging_remote):
    remote = staging_remote
    url, options = remote()
    server = ServerSide(url, options)
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    # A folder whose first file is large, then many small ones: once the large one's object is on the
    # remote, the small ones still upload, and the log entry comes after them all.
    tree = tmp_path / "tree"
    tree.mkdir()
    big = _large(tree / "a.bin", 8)
    for i in range(300):
        (tree / f"s{i:03}.bin").write_bytes(os.urandom(64))
    big_key = "objects/{0}/{1}".format(*(lambda h: (h[:2], h[2:]))(hashlib.sha256(big.read_bytes()).hexdigest()))
    entry = "models/sentiment/_log/00000002.json"
    env = dict(os.environ, MREG_CACHE_DIR=str(tmp_path / "cache"),
               MREG_REPO_OPTIONS=" ".join(f"{k}={v}" for k, v in options.items()))
    writing = subprocess.Popen([sys.executable, "-m", "mreg", "--repo", url, "register", "sentiment", str(tree), "-q"],
                               cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _kill_when(writing, lambda: server.exists(big_key) and not server.exists(entry), "the object before the entry")
    assert server.exists(big_key) and not server.exists(entry)  # the kill landed between the two
    a("verify", "--remote", "origin", "-q")
    assert a("verify", "--remote", "origin", "--json").json["checked"]["versions"] == 1
    direct = Mreg(tmp_path)
    again = direct("--repo", url, "register", "sentiment", tree, "--json", env=env).json  # the next write completes
    assert again["version"] == "1.0.1"
    a("pull", "-q")
    assert sorted(v["version"] for v in a("show", "sentiment", "--json").json) == ["1.0.0", "1.0.1"]
    a("verify", "--remote", "origin", "-q")
    a("gc", "--remote", "origin", "--grace", "1h", "-q", env={"MREG_NOW": later(2)})
    assert server.leftovers() == []
    a("verify", "--remote", "origin", "-q")
