"""SPEC §6-7, durability against power loss. A process kill cannot see a missing
fsync (the page cache survives it), so this test reads the system calls: every
rename into `.mreg/objects/` and over an index or the config must come after
the renamed file's data was made durable (fsync/fdatasync of it, or a syncfs
after its last write); every history append must be durable before the index
that counts it replaces the old one; and gc must keep an object pinned by a
live writer, and every fresh object for the grace period."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rel import STRACE, cli, mreg_argv, read_indexes, tally

CALL = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")
FD = re.compile(r"^\d+<(.*?)>")
FDS = re.compile(r"\d+<(.*?)>")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _trace(project: Path, *args) -> list[tuple[str, str, int]]:
    log = project.parent / "trace.txt"
    argv = [STRACE, "-f", "-qq", "-y", "-s", "0", "-o", str(log), "-e",
            "trace=write,pwrite64,writev,copy_file_range,sync_file_range,fsync,fdatasync,syncfs,rename,renameat,"
            "renameat2,ftruncate",
            *mreg_argv(*args)]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    calls = []
    for line in log.read_text().splitlines():
        m = CALL.match(line)
        if not m or int(m.group(4)) < 0:
            continue
        name, rest = m.group(2), m.group(3)
        if name in ("rename", "renameat", "renameat2"):
            paths = QUOTED.findall(rest)
            calls.append((name, paths[0], paths[1]))
        elif name == "copy_file_range":
            # copy_file_range(IN<path>, NULL, OUT<path>, NULL, n, 0): a write to OUT, made in the kernel.
            calls.append(("write", FDS.findall(rest)[1], ""))
        else:
            fd = FD.match(rest)
            calls.append((name, fd.group(1) if fd else "", ""))
    return calls


def check_ordering(calls, root: str) -> int:
    last_write: dict[str, int] = {}
    last_sync: dict[str, int] = {}
    last_syncfs = -1
    checked = 0
    history_dirty: set[str] = set()
    for i, (name, a, b) in enumerate(calls):
        if name in ("write", "pwrite64", "writev", "ftruncate"):
            last_write[a] = i
            if a.endswith("_history.jsonl"):
                history_dirty.add(a)
        elif name in ("fsync", "fdatasync"):
            last_sync[a] = i
            history_dirty.discard(a)
        elif name == "syncfs":
            last_syncfs = i
            history_dirty.clear()
        else:
            src, dst = a, b
            if dst.startswith(root + "/objects/") or dst.endswith("/_index.json") or dst.endswith("/config.toml"):
                written = last_write.get(src, -1)
                durable = max(last_sync.get(src, -1), last_syncfs)
                if written >= 0:  # written by this process (gc's trash moves rename old, synced objects)
                    assert durable > written, f"{dst} renamed into place before its data was synced ({src})"
                checked += 1
            if dst.endswith("/_index.json"):
                history = dst[: -len("_index.json")] + "_history.jsonl"
                assert history not in history_dirty, f"{dst} replaced before {history} was synced"
            last_write[dst] = last_write.pop(src, -1)
            last_sync[dst] = last_sync.pop(src, -1)
    return checked


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_every_rename_into_the_registry_follows_a_sync(project, tmp_path):
    root = str(project / ".mreg")
    one = tmp_path / "one.bin"
    one.write_bytes(b"single file" * 100)
    few = tmp_path / "few"  # fsynced one by one
    many = tmp_path / "many"  # above the batch threshold: one syncfs
    for folder, n in ((few, 5), (many, 40)):
        folder.mkdir()
        for i in range(n):
            (folder / f"f{i}").write_bytes(f"{folder.name} {i}".encode())
    checked = 0
    for args in (["register", "m", one], ["register", "d", few], ["register", "d", many],
                 ["promote", "m@1.0.0", "--to", "production", "--reason", "r"], ["update", "m@1.0.0", "-t", "a=b"],
                 ["rm", "d@1.0.0"], ["gc", "--grace", "0s"]):
        checked += check_ordering(_trace(project, *args), root)
    assert checked >= 1 + 6 + 41 + 5, checked
    tally("durability: renames checked for a preceding sync", checked)


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_a_large_object_copied_in_the_kernel_is_synced_before_its_rename(project, tmp_path):
    # From 8 MiB on, the bytes travel by copy_file_range on a second thread
    # (mreg/core/copying.py), not by write: those copies count as writes here.
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(40 << 20))
    calls = _trace(project, "register", "big", big)
    root = str(project / ".mreg")
    copies = [a for name, a, _ in calls if name == "write" and a.startswith(root + "/intake/")]
    assert len(copies) >= 3, "expected the 40 MiB to be copied in pieces of 16 MiB"
    # Each piece's writeback is started at once, so the fsync finds little left.
    assert sum(1 for name, a, _ in calls if name == "sync_file_range" and a in copies) >= 3
    assert check_ordering(calls, root) >= 1
    objects = [b for name, _, b in calls if name.startswith("rename") and b.startswith(root + "/objects/")]
    assert len(objects) == 1


HOLD_PIN = textwrap.dedent("""
    import sys, time
    import mreg
    from mreg.core.store import Intake
    registry = mreg.open(sys.argv[1])
    with Intake(registry.layout) as intake:
        intake.pin(sys.argv[2])
        print("pinned", flush=True)
        sys.stdin.read()
""")


def test_gc_keeps_pinned_and_young_objects(project, tmp_path):
    """The gc half of the gc-vs-register protocol, with a real writer process holding a pin."""
    f = tmp_path / "w.bin"
    f.write_bytes(b"about to be referenced again")
    doc = cli(project, "register", "m", f, "--json", expect=0).json
    cli(project, "register", "keep", f, expect=0)
    g = tmp_path / "g.bin"
    g.write_bytes(b"young garbage")
    young = cli(project, "register", "y", g, "--json", expect=0).json
    cli(project, "rm", "m", "--all", "--yes", expect=0)
    cli(project, "rm", "keep", "--all", "--yes", expect=0)
    cli(project, "rm", "y", "--all", "--yes", expect=0)
    hexdigest = doc["digest"][7:]
    obj = project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]
    young_obj = project / ".mreg" / "objects" / young["digest"][7:9] / young["digest"][9:]
    # Default grace (24h): nothing this young goes.
    cli(project, "gc", expect=0)
    assert obj.exists() and young_obj.exists(), "gc deleted objects younger than the grace period"
    writer = subprocess.Popen([sys.executable, "-c", HOLD_PIN, str(project), hexdigest], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "pinned"
        cli(project, "gc", "--grace", "0s", expect=0)
        assert obj.exists(), "gc deleted an object a live writer has pinned"
        assert not young_obj.exists()
    finally:
        writer.stdin.close()
        writer.wait()
    cli(project, "gc", "--grace", "0s", expect=0)
    assert not obj.exists()
    tally("durability: gc protection scenarios", 3)


def test_gc_racing_a_paused_register(project, tmp_path):
    """A register stopped (SIGSTOP) at random points while gc --grace 0s runs: it still commits whole."""
    import os
    import random
    import signal
    import time

    from rel import finish, scale, spawn

    f = tmp_path / "w.bin"
    f.write_bytes(os.urandom(1 << 20) * 12)
    rng = random.Random(5)
    for i in range(scale(6, 30)):
        cli(project, "register", "old", f, expect=0)
        cli(project, "rm", "old", "--all", "--yes", expect=0)  # the object is garbage now...
        proc = spawn(project, "register", "new", f, "--json")  # ...and about to be referenced again
        time.sleep(rng.uniform(0.1, 0.5))
        proc.send_signal(signal.SIGSTOP)
        cli(project, "gc", "--grace", "0s", "--lock-timeout", "0", expect=(0, 4))
        proc.send_signal(signal.SIGCONT)
        run = finish(proc)
        assert run.code == 0, run
        version = run.json["version"]
        assert version in read_indexes(project)["new"]["versions"]
        got = tmp_path / "got.bin"
        cli(project, "get", f"new@{version}", "-o", got, expect=0)
        assert got.read_bytes() == f.read_bytes()
        got.unlink()
        cli(project, "rm", "new", "--all", "--yes", expect=0)
    tally("durability: gc protection scenarios", scale(6, 30))


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_a_register_puts_back_what_a_crashed_gc_left_in_its_trash(project, tmp_path):
    """The register half of trash recovery: its object vanished into a dead gc's trash after it was checked.

    The register stores bytes the store already holds (so it keeps no copy of
    its own) and is then held for 3 s on entering the registry lock (strace
    delays its second flock). Meanwhile the object is moved into the trash of
    an intake whose owner is gone, as a gc killed between its two renames
    leaves it. The register must find the object missing under the lock, put
    the trash back, and commit a version that verifies.
    """
    import time

    f = tmp_path / "w.bin"
    f.write_bytes(b"bytes a gc is about to take")
    hexdigest = cli(project, "register", "m", f, "--json", expect=0).json["digest"][7:]
    obj = project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]
    intake = project / ".mreg" / "intake"
    argv = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=flock",
            "-e", "inject=flock:delay_enter=3000000:when=2", *mreg_argv("register", "m", f, "--json")]
    writer = subprocess.Popen(argv, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # the writer has pinned the object and dropped its own copy: it relies on the stored one
            ready = [p for p in intake.iterdir() if (p / "pins").is_file()
                     and hexdigest in (p / "pins").read_text() and not list(p.glob("tmp-*"))]
            if ready:
                break
            assert time.monotonic() < deadline and writer.poll() is None, "the register never got to its lock"
            time.sleep(0.02)
        dead = intake / "crashed-gc"
        (dead / "trash").mkdir(parents=True)
        (dead / "pins").write_text("")  # nobody holds it: its gc is gone
        os.rename(obj, dead / "trash" / hexdigest)
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert json.loads(out)["version"] == "1.0.1"
    assert obj.read_bytes() == f.read_bytes()
    assert not (dead / "trash").exists()
    assert cli(project, "verify", "--json", expect=0).json["ok"]
