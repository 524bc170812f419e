"""SPEC §7, crashes: kill -9 at any point leaves a registry that verifies, a
version wholly there or absent, nothing committed lost, no lock left behind.

Two kinds of test: SIGKILL at random moments (many runs), and a deterministic
sweep that kills the process at the N-th write/fsync/rename/... system call for
every N, through strace's fault injection.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from rel import (FULL, STRACE, check_registry, cli, finish, init_registry, kill_after, leftovers, lock_is_free, mreg_argv,
                      read_indexes, scale, sha, snapshot_outside, spawn, tally, tree_digest, wait_for)

SEED = int(os.environ.get("MREG_SEED", "0")) or random.randrange(1 << 30)


@pytest.fixture
def rng():
    print(f"random seed {SEED} (set MREG_SEED to replay)")
    return random.Random(SEED)


def registry_dir(tmp_path: Path) -> Path:
    return init_registry(tmp_path / "project")


def after_kill(project: Path, attempts: dict[str, object], expected: dict[str, object]) -> None:
    """Cheap checks after every kill: verify, no half version, exclusive stages, lock free."""
    import mreg as api

    report = api.open(str(project)).verify()  # in-process: the same code as `mreg verify`, faster
    assert report["ok"], report
    assert lock_is_free(project), "a killed process left the lock held"
    for name, doc in read_indexes(project).items():
        holders = [v for v, r in doc["versions"].items() if r["stage"] == "production"]
        assert len(holders) <= 1, holders
        for version, record in doc["versions"].items():
            ref = f"{name}@{version}"
            if ref in expected:
                continue
            # Not known to have committed: it must be whole and one of the attempts.
            assert record["digest"] in attempts, f"{ref} has digest {record['digest']} nobody registered"
    for ref in expected:
        name, version = ref.split("@")
        assert version in read_indexes(project)[name]["versions"], f"{ref} was lost"


def committed(project: Path, name: str) -> int:
    """How many events the model's index says are committed (0 before its first)."""
    doc = read_indexes(project).get(name)
    return doc["history"]["events"] if doc else 0


def landed(run, before: int, after: int) -> bool:
    """Whether a kill landed mid-operation: the process died of SIGKILL and its commit had not happened.

    A SIGKILL after the commit (while the process printed or exited) proves
    nothing about a crash inside the operation, so it is not counted as one.
    """
    return run.code == -9 and after == before


def test_kill_register_large_file(tmp_path, rng):
    project = registry_dir(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    size = scale(24, 48) << 20
    base = bytearray(os.urandom(1 << 20)) * (size >> 20)
    big = src / "model.bin"
    attempts: dict[str, object] = {}  # digest -> get result
    expected: dict[str, object] = {}  # NAME@VERSION -> get result, for every exit 0
    outside = snapshot_outside(project)

    def register(i: int, delay: float | None):
        base[:8] = i.to_bytes(8, "big")
        big.write_bytes(base)
        digest = sha(bytes(base))
        attempts["sha256:" + digest] = digest
        before = committed(project, "big")
        proc = spawn(project, "register", "big", big, "--json")
        run = kill_after(proc, delay) if delay is not None else finish(proc)
        if run.code == 0:
            expected[f"big@{run.json['version']}"] = digest
        run.mid = landed(run, before, committed(project, "big"))
        return run

    first = register(0, None)
    assert first.code == 0, first
    # The delays span a warm run (the first one pays for cold caches and can take
    # several times as long, which would send most kills after the commit).
    started = time.monotonic()
    assert register(10**6, None).code == 0
    duration = time.monotonic() - started
    kills = scale(12, 60)
    mid = 0
    for i in range(1, kills + 1):
        run = register(i, rng.uniform(0.05, duration))
        assert run.code in (0, -9), run
        tally("crash: SIGKILL injected (random moment)", run.code == -9)
        mid += run.mid
        after_kill(project, attempts, expected)
        versions = sorted(read_indexes(project)["big"]["versions"], key=lambda v: int(v.split(".")[2]))
        if len(versions) > 3:  # keep verify's work bounded: retire the oldest, and collect it
            cli(project, "rm", f"big@{versions[0]}", expect=0)
            expected.pop(f"big@{versions[0]}", None)
            cli(project, "gc", "--grace", "0s", "-q", expect=0)
    # Most kills land before the commit (the delays span the whole run); too few means they came too late.
    assert mid * 4 >= kills, f"only {mid} of {kills} kills landed before the commit"
    tally("crash: SIGKILL landed mid-operation, before the commit (random moment)", mid)
    assert register(kills + 1, None).code == 0  # the next command proceeds without cleanup
    check_registry(project, expected)
    assert snapshot_outside(project) == outside


def test_kill_register_directory_of_many_files(tmp_path, rng):
    project = registry_dir(tmp_path)
    tree = tmp_path / "tree"
    count = scale(1200, 5000)
    for i in range(count):
        sub = tree / f"d{i % 40:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.bin").write_bytes(f"file {i}\n".encode() * (1 + i % 7))
    attempts: dict[str, object] = {}
    expected: dict[str, object] = {}
    outside = snapshot_outside(project)

    def register(i: int, delay: float | None):
        (tree / "d00" / "f0.bin").write_bytes(f"attempt {i}".encode())
        before = committed(project, "tree")
        proc = spawn(project, "register", "tree", tree, "--json")
        run = kill_after(proc, delay) if delay is not None else finish(proc)
        if run.code == 0:
            expected[f"tree@{run.json['version']}"] = tree_digest(tree)
            attempts[run.json["digest"]] = True
        run.mid = landed(run, before, committed(project, "tree"))
        return run

    assert register(0, None).code == 0
    started = time.monotonic()  # a warm run, as above: later registers find most files stored
    assert register(10**6, None).code == 0
    duration = time.monotonic() - started
    kills = scale(6, 50)
    mid = 0
    for i in range(1, kills + 1):
        run = register(i, rng.uniform(0.05, duration))
        assert run.code in (0, -9), run
        tally("crash: SIGKILL injected (random moment)", run.code == -9)
        mid += run.mid
        # A killed register's digest is unknown to us; verify proves it whole.
        for name, doc in read_indexes(project).items():
            for record in doc["versions"].values():
                attempts.setdefault(record["digest"], True)
        after_kill(project, attempts, expected)
    assert mid * 4 >= kills, f"only {mid} of {kills} kills landed before the commit"
    tally("crash: SIGKILL landed mid-operation, before the commit (random moment)", mid)
    assert register(999, None).code == 0
    check_registry(project, expected, gets="expected")
    assert snapshot_outside(project) == outside


def test_kill_gc(tmp_path, rng):
    """gc killed while it moves and deletes objects: nothing referenced goes, the next gc recovers."""
    project = registry_dir(tmp_path)
    shared = tmp_path / "shared"
    for i in range(300):
        (shared / f"{i % 10}").mkdir(parents=True, exist_ok=True)
        (shared / f"{i % 10}" / f"s{i}").write_bytes(f"shared {i}".encode())
    keep = cli(project, "register", "keep", shared, "--json", expect=0).json
    expected = {f"keep@{keep['version']}": tree_digest(shared)}
    kills = scale(7, 60)
    mid = 0
    doomed = tmp_path / "doomed"
    for round_ in range(kills):
        if doomed.exists():
            shutil.rmtree(doomed)
        shutil.copytree(shared, doomed)  # shares every object with `keep`...
        for i in range(400):  # ...plus 400 of its own
            (doomed / f"x{i % 8}").mkdir(exist_ok=True)
            (doomed / f"x{i % 8}" / f"u{i}").write_bytes(f"round {round_} unique {i}".encode())
        v = cli(project, "register", "doomed", doomed, "--json", expect=0).json["version"]
        cli(project, "rm", f"doomed@{v}", expect=0)
        intake = project / ".mreg" / "intake"
        earlier = set(os.listdir(intake))  # killed gcs leave theirs behind
        proc = spawn(project, "gc", "--grace", "0s", "--json")
        # gc of 400 objects takes tens of milliseconds: aim the kill at its work
        # (from the moment it makes its intake), not at the interpreter's start-up.
        wait_for(lambda: proc.poll() is not None or bool(set(os.listdir(intake)) - earlier), timeout=60)
        run = kill_after(proc, rng.uniform(0.0, 0.04))
        assert run.code in (0, -9), run
        tally("crash: SIGKILL injected (random moment)", run.code == -9)
        # A gc that finished leaves keep's 300 objects and its manifest; one killed before it
        # took every unreferenced object away leaves more.
        left = sum(len(files) for _, _, files in os.walk(project / ".mreg" / "objects"))
        mid += run.code == -9 and left > 301
        check_registry(project, expected, gets="expected")
        assert lock_is_free(project)
    assert mid, f"none of {kills} kills landed before gc had finished"
    tally("crash: SIGKILL landed mid-operation, before the commit (random moment)", mid)
    # The first gc restores what killed ones left in their trash; the second one
    # (the grace period measured from then) cleans their intakes.
    cli(project, "gc", "--grace", "0s", expect=0)
    time.sleep(0.05)
    cli(project, "gc", "--grace", "0s", expect=0)
    # What may remain: empty pin-less folders of killed processes younger than a
    # minute (gc leaves those alone whatever --grace says). No trash, no temp file.
    left = [(str(p), sorted(os.listdir(p))[:5]) for p in (project / ".mreg" / "intake").iterdir()]
    assert all(not files for _, files in left), f"gc left intakes behind: {left}"
    objects = sum(len(files) for _, _, files in os.walk(project / ".mreg" / "objects"))
    assert objects == 301, f"{objects} objects after a full gc, expected keep's 300 + manifest"


LIFECYCLE = ["promote", "transition", "rm", "update", "register", "rollback"]


def test_kill_lifecycle_commands(tmp_path, rng):
    project = registry_dir(tmp_path)
    src = tmp_path / "w.bin"
    expected: dict[str, object] = {}
    attempts: dict[str, object] = {}
    removed: set[str] = set()
    for i in range(4):
        src.write_bytes(f"weights {i}".encode())
        doc = cli(project, "register", "m", src, "--json", expect=0).json
        expected[f"m@{doc['version']}"] = sha(src.read_bytes())
        attempts[doc["digest"]] = True
    stages = ["testing", "staging", "production", "development", "archived", "deprecated"]
    mid = 0
    for i in range(scale(30, 250)):
        versions = sorted(read_indexes(project)["m"]["versions"])
        version = rng.choice(versions)
        verb = rng.choice(LIFECYCLE)
        ref = f"m@{version}"
        if verb == "promote":
            args = ["promote", ref, "--to", "production", "--reason", "r"]
        elif verb == "transition":
            args = ["transition", ref, rng.choice(stages), "--reason", "r"]
        elif verb == "rm":
            if len(versions) < 3:
                continue
            args = ["rm", ref, "--force"]
            removed.add(ref)
        elif verb == "update":
            args = ["update", ref, "-t", f"k{i}=v{i}", "-m", f"acc={rng.random()}"]
        elif verb == "rollback":
            args = ["rollback", "m", "--reason", "r"]
        else:
            src.write_bytes(f"weights {i} new".encode())
            attempts["sha256:" + sha(src.read_bytes())] = True
            args = ["register", "m", src, "--json"]
        before = committed(project, "m")
        proc = spawn(project, *args)
        run = kill_after(proc, rng.uniform(0.03, 0.35))
        assert run.code in (0, 1, -9), run
        if run.code == -9:
            tally("crash: SIGKILL injected (random moment)")
        mid += landed(run, before, committed(project, "m"))
        if verb == "register" and run.code == 0:
            expected[f"m@{run.json['version']}"] = sha(src.read_bytes())
        for ref_ in removed:
            expected.pop(ref_, None)
        after_kill(project, attempts, expected)
    assert mid, "no kill landed before its command's commit"
    tally("crash: SIGKILL landed mid-operation, before the commit (random moment)", mid)
    src.write_bytes(b"after")
    cli(project, "register", "m", src, expect=0)
    check_registry(project, expected, gets="expected")


# --- the deterministic sweep -------------------------------------------------------------

SWEPT = ["write", "fsync", "fdatasync", "syncfs", "rename", "renameat", "renameat2", "unlink", "unlinkat",
         "rmdir", "ftruncate", "mkdir", "mkdirat"]


def _pristine(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """A registry with m@1.0.0 in production and m@1.0.1 in development."""
    project = registry_dir(tmp_path / "pristine")
    expected = {}
    for i in range(2):
        f = tmp_path / f"w{i}.bin"
        f.write_bytes(f"pristine {i}".encode() * 100)
        doc = cli(project, "register", "m", f, "--json", expect=0).json
        expected[f"m@{doc['version']}"] = sha(f.read_bytes())
    cli(project, "promote", "m@1.0.0", "--to", "production", "--reason", "r", expect=0)
    return project, expected


def _sweep(tmp_path: Path, args: list[str], check) -> tuple[int, int]:
    """(kills, kills before the commit): `check` returns whether the command's change is committed."""
    pristine, expected = _pristine(tmp_path)
    kills = early = 0
    for call in SWEPT:
        n = 1
        while True:
            work = tmp_path / f"run-{call}-{n}"
            shutil.copytree(pristine.parent, work, symlinks=True)
            project = work / "project"
            argv = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}",
                    "-e", f"inject={call}:signal=KILL:when={n}", *mreg_argv(*args)]
            done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL)
            assert "Traceback" not in done.stderr, done.stderr
            killed = done.returncode == -9 or "killed by SIGKILL" in done.stderr
            done_already = check(project, expected, done, killed)
            early += killed and not done_already
            shutil.rmtree(work)
            if not killed:
                break
            kills += 1
            n += 1
    tally("crash: SIGKILL injected at the N-th syscall (strace sweep)", kills)
    tally("crash: SIGKILL at the N-th syscall, before the commit (strace sweep)", early)
    return kills, early


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_sweep_kill_at_every_syscall_of_register(tmp_path):
    src = tmp_path / "new.bin"
    src.write_bytes(b"swept bytes" * 300)

    def check(project, expected, done, killed):
        assert killed or done.returncode == 0, done.stderr
        indexes = read_indexes(project)
        versions = indexes["m"]["versions"]
        done_already = "1.0.2" in versions
        if "1.0.2" in versions:
            assert versions["1.0.2"]["digest"] == "sha256:" + sha(src.read_bytes())
        after_kill(project, {}, expected | ({"m@1.0.2": None} if "1.0.2" in versions else {}))
        nxt = cli(project, "register", "m", src, "--json", expect=0).json  # proceeds without cleanup
        assert nxt["version"] in ("1.0.2", "1.0.3")
        if FULL:
            check_registry(project, expected | {f"m@{nxt['version']}": sha(src.read_bytes())}, gets="expected")
        return done_already

    kills, early = _sweep(tmp_path, ["register", "m", str(src), "-q"], check)
    assert kills >= 10
    assert early >= 5, f"only {early} of {kills} kills landed before the commit"


@pytest.mark.skipif(not STRACE, reason="strace is not installed")
def test_sweep_kill_at_every_syscall_of_promote(tmp_path):
    def check(project, expected, done, killed):
        assert killed or done.returncode == 0, done.stderr
        versions = read_indexes(project)["m"]["versions"]
        stages = (versions["1.0.0"]["stage"], versions["1.0.1"]["stage"])
        # All of the promotion or none of it: never two in production, never a half step.
        assert stages in (("production", "development"), ("deprecated", "production")), stages
        after_kill(project, {}, expected)
        events = cli(project, "history", "m", "--json", expect=0).json
        if stages[1] == "production":
            assert [e["action"] for e in events[:4]] == ["supersede", "promote", "promote", "promote"] or \
                {e["action"] for e in events[:4]} == {"supersede", "promote"}
        cli(project, "transition", "m@1.0.1", "testing" if stages[1] == "development" else "staging",
            "--reason", "next", expect=0)
        return stages[1] == "production"

    kills, early = _sweep(tmp_path, ["promote", "m@1.0.1", "--to", "production", "--reason", "sweep"], check)
    assert kills >= 8
    assert early >= 3, f"only {early} of {kills} kills landed before the commit"
