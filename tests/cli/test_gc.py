"""`mreg gc`: deletes what no version references, once old enough, and never what a
running register is about to reference."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPORT_KEYS = {"removed_versions", "objects", "bytes", "dry_run"}


def objects(project: Path) -> set[str]:
    root = project / ".mreg" / "objects"
    return {p.parent.name + p.name for p in root.glob("??/*")}


def intakes(project: Path) -> list[Path]:
    return list((project / ".mreg" / "intake").iterdir())


def age(path: Path, seconds: float) -> None:
    """Make a file or folder look `seconds` old."""
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def garbage(mreg, project):
    """Model `keep` (referenced) and a removed version whose 2 objects (a directory) are garbage."""
    (project / "keep.bin").write_text("keep me")
    mreg("register", "keep", "keep.bin")
    folder = project / "dir"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w" * 1000)
    mreg("register", "gone", str(folder))
    mreg("rm", "gone@1.0.0")
    return mreg


def test_grace_protects_young_objects(garbage, project):
    before = objects(project)
    assert len(before) == 3  # keep.bin, weights.bin and the manifest
    report = garbage("gc", "--json").json  # default grace 24h: all are young
    assert report == {**report, "removed_versions": [], "objects": 0, "bytes": 0, "dry_run": False}
    assert objects(project) == before
    assert garbage("gc", "--grace", "1h", "--json").json["objects"] == 0


def test_gc_frees_unreferenced_objects_once(garbage, project):
    dry = garbage("gc", "--grace", "0s", "--dry-run", "--json").json
    assert REPORT_KEYS <= set(dry)
    assert dry["dry_run"] is True and dry["objects"] == 2 and dry["bytes"] > 1000
    assert len(objects(project)) == 3  # a dry run changes nothing
    report = garbage("gc", "--grace", "0s", "--json").json
    assert report == {**dry, "dry_run": False}
    assert len(objects(project)) == 1
    again = garbage("gc", "--grace", "0s", "--json").json
    assert (again["objects"], again["bytes"], again["removed_versions"]) == (0, 0, [])
    garbage("verify")
    assert garbage("get", "keep", "-o", str(project / "back.bin")).code == 0
    assert (project / "back.bin").read_text() == "keep me"


def test_old_objects_go_with_the_default_grace(garbage, project):
    for hexdigest in objects(project):
        age(project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:], 25 * 3600)
    assert garbage("gc", "--json").json["objects"] == 2
    garbage("verify")


STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_human_output(garbage):
    r = garbage("gc", "--grace", "0s", "--dry-run")
    assert re.fullmatch(STAMP + r" would free 2 objects, 1\.\d KiB; would remove 0 versions\n", r.out)
    r = garbage("gc", "--grace", "0s")
    # One line with the time in UTC, for a cron log.
    assert re.fullmatch(STAMP + r" freed 2 objects, 1\.\d KiB; removed 0 versions\n", r.out)
    r = garbage("gc", "--grace", "0s", "-q")
    assert r.out == "" and r.err == ""


def test_objects_inside_the_grace_period_are_reported_as_pending(garbage, project):
    # Right after an rm, nothing is old enough: the dry run says what waits, and until when.
    before = time.time()
    r = garbage("gc", "--dry-run")
    assert re.fullmatch(STAMP + r" would free 0 objects, 0 B; would remove 0 versions; 2 objects, 1\.\d KiB wait"
                        r" out the grace period, collectable from " + STAMP + r"\n", r.out), r.out
    report = garbage("gc", "--dry-run", "--json").json
    pending = report["pending"]
    assert pending["objects"] == 2 and pending["bytes"] > 1000
    from mreg.core.timeparse import parse_time

    when = parse_time(pending["collectable_at"]).timestamp()
    assert before + 24 * 3600 - 5 <= when <= time.time() + 24 * 3600 + 5  # the default grace, 24h
    assert garbage("gc", "--grace", "1h", "--json").json["pending"]["objects"] == 2
    # Once collected, nothing is pending.
    done = garbage("gc", "--grace", "0s", "--json").json
    assert done["objects"] == 2 and done["pending"] == {"objects": 0, "bytes": 0, "collectable_at": None}


def test_short_n_is_not_dry_run(garbage, project):
    # -n is --limit for history and search; gc refuses it rather than guess.
    before = objects(project)
    r = garbage("gc", "--grace", "0s", "-n", expect=2)
    assert r.err.splitlines() == ["mreg: error: gc has no -n option",
                                  "hint: use `mreg gc --dry-run` to see what would go"]
    assert objects(project) == before
    assert "-n" not in garbage("gc", "--help").out.replace("--", "")


def test_archived_older_than(mreg, project):
    for i in range(3):
        (project / f"v{i}.bin").write_text(f"v{i}")
        mreg("register", "m", f"v{i}.bin")
    mreg("transition", "m@1.0.0", "archived", "--reason", "old")
    mreg("transition", "m@1.0.1", "archived", "--reason", "old")
    # back-date 1.0.0's archiving by 40 days, in the index as an old registry would have it
    import json

    index = project / ".mreg" / "models" / "m" / "_index.json"
    data = json.loads(index.read_text())
    data["versions"]["1.0.0"]["stage_changed_at"] = "2020-01-01T00:00:00.000000Z"
    index.write_text(json.dumps(data))

    dry = mreg("gc", "--archived-older-than", "30d", "--grace", "0s", "--dry-run", "--json").json
    assert dry["removed_versions"] == ["m@1.0.0"] and dry["objects"] == 1
    assert len(mreg("show", "m", "--json").json) == 3
    assert [e["action"] for e in mreg("history", "m", "--json").json][0] == "transition"

    report = mreg("gc", "--archived-older-than", "30d", "--grace", "0s", "--json").json
    assert report["removed_versions"] == ["m@1.0.0"] and report["objects"] == 1
    assert [d["version"] for d in mreg("show", "m", "--json").json] == ["1.0.1", "1.0.2"]
    event = mreg("history", "m", "-n", "1", "--json").json[0]
    assert (event["action"], event["version"], event["from"], event["to"]) == ("gc", "1.0.0", "archived", None)
    assert "30d" in event["reason"]
    assert mreg("gc", "--archived-older-than", "30d", "--grace", "0s", "--json").json["removed_versions"] == []
    # 1.0.1 was archived moments ago; 0s takes it, with its own gc event
    assert mreg("gc", "--archived-older-than", "0s", "--json").json["removed_versions"] == ["m@1.0.1"]
    mreg("verify")
    (project / "n.bin").write_text("n")
    assert mreg("register", "m", "n.bin", "--json").json["version"] == "1.0.3"  # numbers not reused


def test_defaults_from_config_make_a_silent_cron_line(garbage, project):
    config = project / ".mreg" / "config.toml"
    text = config.read_text()
    assert 'grace = "24h"' in text
    config.write_text(text.replace('grace = "24h"', 'grace = "0s"'))
    garbage("transition", "keep@1.0.0", "archived")
    config.write_text(config.read_text().replace('archived_older_than = ""', 'archived_older_than = "0s"'))
    r = garbage("gc", "-q")
    assert r.out == "" and r.err == ""
    assert objects(project) == set()
    garbage("show", "keep", expect=1)
    # the command line still wins over config
    assert garbage("gc", "--grace", "24h", "--archived-older-than", "1000d", "--json").json["objects"] == 0


@pytest.mark.parametrize("args", [("--grace", "5x"), ("--grace", "-1h"), ("--grace", ""),
                                  ("--archived-older-than", "30"), ("--archived-older-than", "soon")])
def test_bad_durations_are_usage_errors(garbage, project, args):
    before = objects(project)
    r = garbage("gc", *args, expect=2)
    assert "duration" in r.err
    assert objects(project) == before


def test_bad_duration_in_config_changes_nothing(garbage, project):
    config = project / ".mreg" / "config.toml"
    config.write_text(config.read_text().replace('grace = "24h"', 'grace = "a day"'))
    before = objects(project)
    r = garbage("gc", expect=None)
    assert r.code in (2, 3) and "grace" in r.err.splitlines()[0] or "duration" in r.err
    assert objects(project) == before


CRASHING_REGISTER = textwrap.dedent("""
    import os, sys
    import mreg
    from mreg.core import store
    # Die (as kill -9 would) after the first file is copied into the intake,
    # before it is moved into the store: a crashed writer's leftovers.
    store.ObjectStore.install = lambda *a, **k: os._exit(9)
    mreg.open(sys.argv[1]).register("crash", sys.argv[2])
""")


def test_leftovers_of_crashed_writers_are_cleaned_after_grace(garbage, project):
    (project / "big.bin").write_bytes(os.urandom(100_000))
    done = subprocess.run([sys.executable, "-c", CRASHING_REGISTER, str(project), str(project / "big.bin")])
    assert done.returncode == 9
    left = intakes(project)
    assert len(left) == 1 and any(p.name.startswith("tmp-") for p in left[0].iterdir())
    garbage("verify")
    garbage("gc", "-q")  # young: kept
    assert intakes(project) == left
    garbage("gc", "--grace", "1h", "-q")
    assert intakes(project) == left
    report = garbage("gc", "--grace", "0s", "--dry-run", "--json").json
    assert intakes(project) == left
    garbage("gc", "--grace", "0s", "-q")
    assert intakes(project) == []
    garbage("verify")


HOLDER = textwrap.dedent("""
    import sys, time
    from mreg.core.layout import find_registry
    from mreg.core.lock import RegistryLock
    layout = find_registry(sys.argv[1])
    RegistryLock(layout.lock, layout.lock_info).acquire(5)
    print("held", flush=True)
    time.sleep(60)
""")


def test_lock_timeout(garbage, project):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(project)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = objects(project)
        for args in (("gc", "--grace", "0s"), ("rm", "keep@1.0.0"), ("rm", "keep", "--all", "--yes")):
            r = garbage(*args, "--lock-timeout", "0.3", expect=4)
            assert f"pid {holder.pid}" in r.err
        assert objects(project) == before
    finally:
        holder.kill()
        holder.wait()
    garbage("gc", "--grace", "0s", "-q")


def make_tree(root: Path, count: int, shared_only: bool = False) -> None:
    """`count` files in 40 folders; the even ones have fixed content (shared with earlier versions)."""
    for i in range(count):
        if shared_only and i % 2:
            continue
        folder = root / f"part{i % 40:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = (b"shared %d " % i) * 300 if i % 2 == 0 else os.urandom(3000)
        (folder / f"f{i}.bin").write_bytes(data)


def test_gc_in_a_loop_beside_a_slow_register(mreg, project):
    """gc --grace 0s runs over and over while a large directory is being registered.

    Half of the directory's files are already in the store as garbage (an
    earlier version holding them was removed), so gc wants to delete exactly
    the objects the register is finding and reusing.
    """
    count = 4000
    make_tree(project / "old", count, shared_only=True)
    mreg("register", "m", "old")
    mreg("rm", "m@1.0.0")
    make_tree(project / "big", count)

    register = subprocess.Popen([sys.executable, "-m", "mreg", "register", "m", "big", "--json"], cwd=project,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Deterministic interleaving: once the register has pinned objects, stop
    # it mid-way, collect garbage twice, then let it go on beside more gc runs.
    intake = project / ".mreg" / "intake"
    deadline = time.monotonic() + 120
    while register.poll() is None and time.monotonic() < deadline:
        if any(p.stat().st_size > 64 * 100 for p in intake.glob("*/pins") if p.exists()):
            break
        time.sleep(0.005)
    assert register.poll() is None, "the register finished before gc could run beside it"
    os.kill(register.pid, signal.SIGSTOP)
    try:
        for _ in range(2):
            mreg("gc", "--grace", "0s", "-q")
    finally:
        os.kill(register.pid, signal.SIGCONT)
    while register.poll() is None:
        mreg("gc", "--grace", "0s", "-q")
    out, err = register.communicate()
    assert register.returncode == 0, err
    doc = __import__("json").loads(out)
    assert doc["files"] == count
    mreg("gc", "--grace", "0s", "-q")
    mreg("verify")
    mreg("get", "m@1.0.1", "-o", str(project / "back"))
    for source in (project / "big").rglob("*.bin"):
        copy = project / "back" / source.relative_to(project / "big")
        assert copy.read_bytes() == source.read_bytes(), source
    assert len(list((project / "back").rglob("*.bin"))) == count


def test_a_storage_fault_names_what_failed(mreg, project):
    # The intake folder replaced by a file: neither gc nor register can make its workspace.
    (project / "a.bin").write_bytes(b"a")
    intake = project / ".mreg" / "intake"
    for child in intake.iterdir():
        child.rmdir()
    intake.rmdir()
    intake.write_text("")
    gc = mreg("gc", expect=5)
    assert gc.err.startswith("mreg: error: cannot collect garbage: ") and len(gc.err.splitlines()) == 1, gc.err
    register = mreg("register", "m", "a.bin", expect=5)
    assert register.err.startswith("mreg: error: cannot store the artifact: "), register.err
    assert mreg("list", "--json").json == []
