"""SPEC §5, I/O faults: disk full (a real small tmpfs, and ENOSPC injected at
every write), EIO on every fsync, a read-only registry. Each: exit 5, one clear
line, nothing half-written visible, temporary files cleaned, and the next
command works once the fault is gone."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from rel import STRACE, check_registry, cli, init_registry, leftovers, mreg_argv, read_indexes, sha, tally


def _one_line(run) -> None:
    lines = run.err.strip().splitlines()
    assert lines and lines[0].startswith("mreg: error: cannot "), run
    assert len(lines) <= 2, run


def _fill(point, keep: int = 0) -> None:
    """Fill a filesystem until only about `keep` bytes remain."""
    st = os.statvfs(point)
    free = st.f_bavail * st.f_frsize - keep
    with open(os.path.join(point, "filler"), "wb") as f:
        chunk = b"\0" * (1 << 16)
        try:
            while free > 0:
                free -= f.write(chunk[: max(1, min(len(chunk), free))])
        except OSError:
            pass


def test_disk_full_during_register(tmpfs, tmp_path):
    point = tmpfs("8m")
    project = init_registry(point / "project")
    small = tmp_path / "small.bin"
    small.write_bytes(b"small model")
    cli(project, "register", "m", small, expect=0)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 << 20))
    before = read_indexes(project)
    run = cli(project, "register", "m", big, expect=5)
    _one_line(run)
    assert "disk full" in run.err
    assert read_indexes(project) == before
    assert leftovers(project) == []
    check_registry(project, {"m@1.0.0": sha(small.read_bytes())})
    # Space comes back: the same command works.
    subprocess.run(["mount", "-o", "remount,size=64m", str(point)], check=True)
    cli(project, "register", "m", big, expect=0)
    check_registry(project, {"m@1.0.0": sha(small.read_bytes()), "m@1.0.1": sha(big.read_bytes())})
    tally("io faults: scenarios", 1)


def test_disk_full_during_index_and_history_writes(tmpfs, tmp_path):
    """The object fits, the history or index write does not (space for about one object)."""
    point = tmpfs("8m")
    project = init_registry(point / "project")
    f = tmp_path / "w.bin"
    f.write_bytes(b"v0")
    cli(project, "register", "m", f, "-p", "blob=" + "x" * 50_000, expect=0)
    results = set()
    for keep in (0, 4096, 8192, 16384, 32768, 65536):
        _fill(point, keep)
        f.write_bytes(f"v {keep}".encode())
        before = read_indexes(project)
        run = cli(project, "register", "m", f, "-p", "blob=" + "y" * 60_000, expect=(0, 5))
        results.add(run.code)
        if run.code == 5:
            _one_line(run)
            assert read_indexes(project) == before
        assert leftovers(project) == []
        os.unlink(point / "filler")
        check_registry(project, gets="expected")
        cli(project, "update", "m@1.0.0", "-t", f"k{keep}=v", expect=0)  # works again
    assert 5 in results
    tally("io faults: scenarios", 6)


def test_disk_full_during_gc(tmpfs, tmp_path):
    point = tmpfs("8m")
    project = init_registry(point / "project")
    f = tmp_path / "w.bin"
    for i in range(3):
        f.write_bytes(f"v{i}".encode() * 1000)
        cli(project, "register", "m", f, expect=0)
    cli(project, "transition", "m@1.0.0", "archived", "--reason", "old", expect=0)
    cli(project, "rm", "m@1.0.1", expect=0)
    _fill(point)
    run = cli(project, "gc", "--grace", "0s", "--archived-older-than", "0s", expect=(0, 5))
    if run.code == 5:
        _one_line(run)
    assert leftovers(project) == []
    check_registry(project, gets="all")
    os.unlink(point / "filler")
    cli(project, "gc", "--grace", "0s", "--archived-older-than", "0s", expect=0)
    assert sorted(read_indexes(project)["m"]["versions"]) == ["1.0.2"]
    check_registry(project, {"m@1.0.2": sha(f.read_bytes())})
    tally("io faults: scenarios", 1)


def _strace_sweep(tmp_path, call: str, error: str, args_for, max_n: int = 60):
    """Fail the N-th `call` with `error` for every N: exit 5 (or 0 if the fault hit
    something harmless), nothing half-written, no temporary files, next command works."""
    pristine = tmp_path / "pristine"
    pristine.mkdir(parents=True)
    cli(pristine, "init", ".", expect=0)
    f = tmp_path / "w.bin"
    f.write_bytes(b"first")
    cli(pristine, "register", "m", f, expect=0)
    expected = {"m@1.0.0": sha(b"first")}
    codes = []
    n = 1
    while n <= max_n:
        work = tmp_path / f"run-{n}"
        shutil.copytree(pristine, work, symlinks=True)
        args = args_for(work)
        argv = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}",
                "-e", f"inject={call}:error={error}:when={n}", *mreg_argv(*args)]
        done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, (n, done.stderr)
        assert done.returncode in (0, 5), (n, done.returncode, done.stderr)
        codes.append(done.returncode)
        if done.returncode == 5:
            assert done.stderr.strip().splitlines()[0].startswith("mreg: error:"), done.stderr
        assert leftovers(work) == [], (n, leftovers(work))
        check_registry(work, expected, gets="expected")
        cli(work, "register", "m", f, expect=0)
        shutil.rmtree(work)
        if codes[-5:] == [0] * 5 and len(codes) > 5:
            break  # past the last such call: the fault no longer lands
        n += 1
    assert 5 in codes
    tally(f"io faults: {error} injected on {call}", codes.count(5))
    return codes


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_enospc_at_every_write_of_register(tmp_path):
    src = tmp_path / "new.bin"
    src.write_bytes(b"new bytes" * 500)
    _strace_sweep(tmp_path, "write", "ENOSPC", lambda w: ["register", "m", str(src), "-q"])


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_eio_at_every_fsync_of_register_and_promote(tmp_path):
    src = tmp_path / "new.bin"
    src.write_bytes(b"new bytes" * 500)
    _strace_sweep(tmp_path, "fsync", "EIO", lambda w: ["register", "m", str(src), "-q"])
    _strace_sweep(tmp_path / "promote", "fsync", "EIO",
                  lambda w: ["promote", "m@1.0.0", "--to", "production", "--reason", "r"])


def test_read_only_registry(tmpfs, tmp_path):
    point = tmpfs("8m")
    project = init_registry(point / "project")
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    cli(project, "register", "m", f, expect=0)
    done = subprocess.run(["mount", "-o", "remount,ro", str(point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount read-only: {done.stderr}")
    try:
        for args in (["list"], ["show", "m@1.0.0"], ["history"], ["search", "name = 'm'"],
                     ["get", "m@1.0.0", "-o", str(tmp_path / "out.bin")], ["verify"]):
            cli(project, *args, expect=0)
        assert (tmp_path / "out.bin").read_bytes() == b"weights"
        for args in (["register", "m", str(f)], ["promote", "m@1.0.0", "--reason", "r"],
                     ["update", "m@1.0.0", "-t", "a=b"], ["rm", "m@1.0.0"], ["gc", "--grace", "0s"]):
            run = cli(project, *args, expect=5)
            _one_line(run)
            assert "read-only" in run.err, run
            tally("io faults: scenarios", 1)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(point)], check=True)
    cli(project, "register", "m", f, "--version", "2.0.0", expect=0)
    check_registry(project, {"m@1.0.0": sha(b"weights")})
