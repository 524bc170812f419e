"""SPEC §7, locks: a live holder is waited for, then exit 4 naming it; a dead
holder's lock is broken with a warning; garbage in lock.json is never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from rel import check_registry, cli, lock_is_free, tally

HOLDER = textwrap.dedent("""
    import fcntl, json, os, socket, sys, time
    root = sys.argv[1]
    fd = os.open(os.path.join(root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    info = bytes.fromhex(sys.argv[2]).decode("utf-8", "surrogateescape")
    with open(os.path.join(root, "lock.json"), "w", errors="surrogateescape") as f:
        f.write(info if info != "-" else json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time() - 42, "command": "mreg gc"}))
    print("held", flush=True)
    sys.stdin.read()
""")


@pytest.fixture
def hold(project):
    procs = []

    def start(info: str = "-"):
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project / ".mreg"), info.encode().hex()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_live_holder_is_waited_for_then_exit_4_naming_it(project, hold, tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    holder = hold()
    started = time.monotonic()
    run = cli(project, "register", "m", f, "--lock-timeout", "1.5", expect=4)
    waited = time.monotonic() - started
    assert waited >= 1.5, waited
    line = run.err.strip().splitlines()[0]
    assert line.startswith("mreg: error:"), run
    assert f"pid {holder.pid}" in line and socket.gethostname() in line, line
    assert "42s ago" in line or "43s ago" in line or "44s ago" in line, line
    assert not (project / ".mreg" / "models" / "m").exists()
    tally("locks: scenarios", 1)


def test_holder_without_lock_json_is_named_from_the_kernel(project, tmp_path):
    """A process that holds the flock but never wrote lock.json (another tool,
    or mreg between the two steps) is still named, from /proc/locks."""
    import fcntl
    import os

    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    fd = os.open(project / ".mreg" / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run = cli(project, "register", "m", f, "--lock-timeout", "0.2", expect=4)
    finally:
        os.close(fd)
    assert f"pid {os.getpid()}" in run.err.splitlines()[0], run
    assert not (project / ".mreg" / "models" / "m").exists()
    tally("locks: scenarios", 1)


def test_dead_holder_lock_is_broken_with_a_warning(project, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = {"pid": dead.pid, "host": socket.gethostname(), "since": time.time() - 3600, "command": "mreg register"}
    (project / ".mreg" / "lock.json").write_text(json.dumps(info))
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    run = cli(project, "register", "m", f, "--lock-timeout", "1", expect=0)
    assert f"pid {dead.pid}" in run.err and "warning" in run.err, run
    assert lock_is_free(project)
    assert not (project / ".mreg" / "lock.json").exists()
    check_registry(project, {"m@1.0.0": __import__("hashlib").sha256(b"w").hexdigest()})
    tally("locks: scenarios", 1)


@pytest.mark.parametrize("content", ["", "{", "null", "[1,2]", '{"pid": "x", "host": 1}', "\x00\xff garbage",
                                     '{"pid": 1e400, "host": "h", "since": "yesterday"}',
                                     '{"pid": 1000000000000000000000, "host": "vm", "since": 1e300}',
                                     '{"pid": 12, "host": "h", "since": NaN}', "[" * 10_000 + "]" * 10_000,
                                     '{"pid": 12, "host": ["h"], "since": 1.5e9}'])
def test_garbage_lock_json(project, hold, tmp_path, content):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    # Nobody holds the lock: the garbage is ignored.
    (project / ".mreg" / "lock.json").write_text(content)
    cli(project, "register", "m", f, "--lock-timeout", "1", expect=0)
    # Somebody holds it, and lock.json is garbage: a clear exit 4, no traceback.
    hold(content)
    run = cli(project, "register", "m", f, "--lock-timeout", "0.3", expect=4)
    assert run.err.startswith("mreg: error: registry is locked by"), run
    assert len(run.err.strip().splitlines()) <= 2
    tally("locks: scenarios", 2)
