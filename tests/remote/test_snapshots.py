"""Snapshots of a remote's logs: written every EVERY-th entry, read instead of the entries before them.

The remotes are real (a folder, and SeaweedFS for S3); the reader is the
real view refresh of `--repo URL`, given the real storage wrapped so that
the keys it reads are written down (every call goes through to the storage).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mregtest import Mreg
from reliability.rel import scale

import mreg
from mreg.core.ops.remote_view import refresh
from mreg.core.ops.sync import connect, init_from_remote, remote_config
from mreg.core.registry import Registry
from mreg.core.remote.format import encode, log_key
from mreg.core.remote.snapshots import EVERY, MAX_SNAPSHOT, snapshot_key, write_snapshot
from mreg.errors import MregError

try:
    from servers import s3_remote  # noqa: F401 - the fixture, looked up by name
except ImportError:
    s3_remote = None

ENTRIES = 2 * EVERY + 2  # two snapshots (64 and 128), and two entries past the newest


@pytest.fixture(scope="module", params=["folder", "s3"])
def kind(request, tmp_path_factory):
    """A factory of fresh remote locations: a folder, or a bucket on SeaweedFS."""
    if request.param == "folder":
        base = tmp_path_factory.mktemp("remotes")
        counter = itertools.count()
        return lambda: (str(base / f"r{next(counter)}"), {})
    if s3_remote is None:
        pytest.skip("s3: tests/servers.py is not in this tree")
    return request.getfixturevalue("s3_remote")


def _long_log(folder: Path, url: str, options: dict, entries: int) -> Registry:
    """A registry whose model `m` is `entries` log entries long on the remote (one push per change)."""
    folder.mkdir()
    registry = mreg.init(str(folder))
    (folder / "m.bin").write_bytes(b"weights")
    registry.register("m", str(folder / "m.bin"))
    registry.remote_add("origin", url, options=options)
    registry.push()
    for i in range(entries - 1):
        registry.update("m@1.0.0", metrics=[f"step={i}"])
        registry.push()
    return registry


@pytest.fixture(scope="module")
def long_remote(kind, tmp_path_factory):
    """(url, options, source registry's folder): model `m` has ENTRIES entries on the remote."""
    url, options = kind()
    folder = tmp_path_factory.mktemp("long") / "src"
    _long_log(folder, url, options, ENTRIES)
    return url, options, folder


class Recording:
    """The real storage, with the keys read written down."""

    def __init__(self, storage) -> None:
        self.storage = storage
        self.reads: list[str] = []

    def __getattr__(self, name):
        return getattr(self.storage, name)

    def read(self, key: str, limit: int):
        self.reads.append(key)
        return self.storage.read(key, limit)


def _read_view(folder: Path, url: str, options: dict) -> tuple[Registry, dict, Recording]:
    """A new view of the remote, read by the refresh `--repo URL` runs, with the keys it read."""
    storage = Recording(connect(url, options))
    layout = init_from_remote(remote_config(storage, url), url, str(folder), options, True)
    registry = Registry(layout)
    return registry, refresh(registry, storage), storage


def _entries_read(storage: Recording, name: str = "m") -> list[int]:
    prefix = f"models/{name}/_log/"
    return [int(key[len(prefix):-len(".json")]) for key in storage.reads if key.startswith(prefix)]


def _replace(url: str, options: dict, key: str, data: bytes) -> bytes:
    """Put `data` at `key` in place of what is there (what a hostile remote can do); the old bytes."""
    storage = connect(url, options)
    old = storage.read(key, MAX_SNAPSHOT * 2)
    storage.delete(key)
    assert storage.create(key, data)
    return old


def _index(folder: Path) -> dict:
    return json.loads((folder / ".mreg" / "models" / "m" / "_index.json").read_text())


def test_every_64th_entry_leaves_a_snapshot_and_a_reader_replays_only_the_tail(long_remote, tmp_path):
    url, options, src = long_remote
    storage = connect(url, options)
    keys = sorted(key for key, _ in storage.list("models/m/_snapshots/"))
    assert keys == [snapshot_key("m", EVERY), snapshot_key("m", 2 * EVERY)]
    view, report, read = _read_view(tmp_path / "view", url, options)
    # The newest snapshot, entry 128 to check its head, the two entries after it, and the probe past the end.
    assert _entries_read(read) == [2 * EVERY, 2 * EVERY + 1, 2 * EVERY + 2, 2 * EVERY + 3]
    assert snapshot_key("m", 2 * EVERY) in read.reads and snapshot_key("m", EVERY) not in read.reads
    assert report == {"entries": 2, "snapshots": 1, "ignored": []}
    assert view.show("m") == mreg.open(str(src)).show("m")
    assert _index(tmp_path / "view") == _index(src)
    # Current already: the listing is the only request.
    read.reads.clear()
    assert refresh(view, read) == {"entries": 0, "snapshots": 0, "ignored": []} and read.reads == []


def test_the_command_line_reads_the_tail_only(long_remote, tmp_path):
    """`mreg --repo URL list` on a folder remote opens entry 128 onwards, never the ones before (strace)."""
    url, options, src = long_remote
    if "://" in url:
        pytest.skip("strace sees the files of a folder remote only")
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace"
    env = dict(os.environ, MREG_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(["strace", "-f", "-e", "trace=open,openat", "-o", str(trace), sys.executable, "-m", "mreg",
                           "--repo", url, "list", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == Mreg(src)("list", "--json").json
    opened = {int(n) for n in re.findall(r'_log/(\d{8})\.json", O_RDONLY[^=]*= \d', trace.read_text())}
    assert opened == {2 * EVERY, 2 * EVERY + 1, 2 * EVERY + 2}


def _good_snapshot(url: str, options: dict) -> dict:
    return json.loads(connect(url, options).read(snapshot_key("m", 2 * EVERY), MAX_SNAPSHOT))


def _wrong_head(url: str, options: dict) -> bytes:
    document = _good_snapshot(url, options)
    entry = json.loads(connect(url, options).read(log_key("m", 2 * EVERY - 1), 1 << 24))
    other = entry["events"][-1]["hash"]
    document["head"] = document["index"]["history"]["head"] = other
    return encode(document)


def _invalid_index(url: str, options: dict) -> bytes:
    document = _good_snapshot(url, options)
    document["index"]["versions"]["1.0.0"]["stage"] = 12
    return encode(document)


TAMPERED = {
    "invalid JSON": lambda url, options: b'{"format": 1, "name": "m", ',
    "wrong head": _wrong_head,
    "invalid index": _invalid_index,
    "oversized": lambda url, options: b"{" + b" " * MAX_SNAPSHOT + b"}",
}


@pytest.mark.parametrize("damage", list(TAMPERED))
def test_a_tampered_snapshot_is_ignored_by_readers_and_reported_by_verify(long_remote, tmp_path, damage):
    url, options, src = long_remote
    if damage == "oversized" and "://" in url:
        pytest.skip("64 MiB uploaded once is enough: the folder remote carries it")
    key = snapshot_key("m", 2 * EVERY)
    old = _replace(url, options, key, TAMPERED[damage](url, options))
    try:
        view, report, read = _read_view(tmp_path / "view", url, options)
        assert _index(tmp_path / "view") == _index(src)
        assert report["snapshots"] == 1 and len(report["ignored"]) == 1 and key in report["ignored"][0]
        # Back to the older snapshot: entry 64 (its head), then 65 onwards (after entry 128, whose end
        # the wrong head was checked against).
        checked = [2 * EVERY] if damage == "wrong head" else []
        assert _entries_read(read) == checked + list(range(EVERY, ENTRIES + 2))
        env = {"MREG_CACHE_DIR": str(tmp_path / "cache"),
               "MREG_REPO_OPTIONS": " ".join(f"{k}={v}" for k, v in options.items())}
        assert Mreg(tmp_path)("--repo", url, "show", "m@1.0.0", "--json", env=env).json == \
            Mreg(src)("show", "m@1.0.0", "--json").json
        bad = Mreg(src)("verify", "--remote", "origin", expect=3)
        assert key in bad.out and "snapshot of m" in bad.out
        assert "1 problem found" in bad.err
    finally:
        _replace(url, options, key, old)
    Mreg(src)("verify", "--remote", "origin", "-q")


def test_a_snapshot_with_a_sound_shape_but_the_wrong_index_is_reported_by_verify(long_remote):
    """A reader cannot tell this one from the truth without replaying the log (as it cannot tell a forged
    entry whose hashes were recomputed); verify --remote replays and names it."""
    url, options, src = long_remote
    key = snapshot_key("m", EVERY)
    document = json.loads(connect(url, options).read(key, MAX_SNAPSHOT))
    document["index"]["versions"]["1.0.0"]["metrics"]["step"] = -1
    old = _replace(url, options, key, encode(document))
    try:
        bad = Mreg(src)("verify", "--remote", "origin", expect=3)
    finally:
        _replace(url, options, key, old)
    assert f"{key}: snapshot of m ignored by readers: it is not the log replayed to entry {EVERY}" in bad.out
    assert "metrics.step" in bad.out


def test_racing_writers_of_one_snapshot_both_succeed_and_gc_keeps_snapshots(long_remote):
    url, options, src = long_remote
    storage = connect(url, options)
    key = snapshot_key("m", EVERY)
    before = storage.read(key, MAX_SNAPSHOT)
    model = json.loads(before)["index"]
    assert write_snapshot(storage, "m", EVERY, model) is False  # the other writer's: left as it is
    assert storage.read(key, MAX_SNAPSHOT) == before
    source = Mreg(src)
    source("gc", "--remote", "origin", "--grace", "0s", "-q")
    source("gc", "--remote", "origin", "--grace", "0s", "-q")
    assert sorted(k for k, _ in storage.list("models/m/_snapshots/")) == [key, snapshot_key("m", 2 * EVERY)]


def _seen(run: Mreg, *repo: str, env: dict | None = None) -> dict:
    """What a reader sees through the commands: list, show of every model, search and history, as JSON."""
    def call(*args: str):
        return run(*repo, *args, "--json", env=env).json

    return {"list": call("list"), "show": {m["name"]: call("show", m["name"]) for m in call("list")},
            "search": call("search", "metrics.score >= 0.5"), "history": call("history")}


def _random_change(registry: Registry, rng: random.Random, folder: Path, step: int) -> None:
    """One random change (or a refused one, which changes nothing)."""
    name = rng.choice(["a", "a", "a", "b/x"])
    versions = [v["version"] for v in registry.search(name_glob=name) if v["name"] == name]
    choice = rng.random()
    try:
        if not versions or choice < 0.2:
            artifact = folder / "w.bin"
            artifact.write_bytes(f"{name} {step}".encode())
            registry.register(name, str(artifact), metrics=[f"score={rng.random():.3f}"])
        elif choice < 0.55:
            registry.update(f"{name}@{rng.choice(versions)}", metrics=[f"score={rng.random():.3f}"],
                            tags=[f"step={step}"])
        elif choice < 0.75:
            registry.promote(f"{name}@{rng.choice(versions)}", reason=f"step {step}")
        elif choice < 0.85:
            registry.alias(f"{name}@{rng.choice(versions)}", rng.choice(["champion", "canary"]))
        elif choice < 0.95:
            registry.deploy(f"{name}@{rng.choice(versions)}", "prod", traffic=rng.choice([10, 50, 100]))
        elif choice < 0.99 or len(versions) < 2:
            registry.remove(f"{name}@{rng.choice(versions)}", force=True, reason=f"step {step}")
        else:
            registry.remove(name, all_versions=True, force=True)
    except MregError:
        pass


def test_reads_with_and_without_snapshots_are_the_same(kind, tmp_path):
    """Property: after random changes, each pushed as it is made, the commands read the same through a
    remote's snapshots (read again part-way, so the view also moves on from itself), through its whole
    log (the snapshots deleted), and in the registry that made the changes."""
    url, options = kind()
    seed = int(os.environ.get("MREG_SEED", "7"))
    rng = random.Random(seed)
    src = tmp_path / "src"
    src.mkdir()
    registry = mreg.init(str(src))
    registry.remote_add("origin", url, options=options)
    env = {"MREG_CACHE_DIR": str(tmp_path / "cache"),
           "MREG_REPO_OPTIONS": " ".join(f"{k}={v}" for k, v in options.items())}
    reader = Mreg(tmp_path)
    changes = scale(2 * EVERY, 8 * EVERY)
    for step in range(changes):
        _random_change(registry, rng, src, step)
        if rng.random() < 0.9:
            registry.push()
        if step in (EVERY - 5, EVERY + 20):
            registry.push()
            assert reader("--repo", url, "list", "--json", env=env).json == Mreg(src)("list", "--json").json
    registry.push()
    storage = connect(url, options)
    snapshots = [key for key, _ in storage.list("models/") if "/_snapshots/" in key]
    assert snapshot_key("a", EVERY) in snapshots, f"seed {seed}: too few entries of a"
    truth = _seen(Mreg(src))
    assert _seen(reader, "--repo", url, env=env) == truth, f"seed {seed}"
    for key in snapshots:
        storage.delete(key)
    assert _seen(reader, "--repo", url, env=dict(env, MREG_CACHE_DIR=str(tmp_path / "cache2"))) == truth, \
        f"seed {seed}"
    Mreg(src)("verify", "--remote", "origin", "-q")


def test_a_damaged_view_is_answered_for_by_the_clone(tmp_path):
    """The view is derived data in a cache: a damaged index file there is never shown, and never an error."""
    url = str(tmp_path / "remote")
    source = _long_log(tmp_path / "src", url, {}, 3)
    env = {"MREG_CACHE_DIR": str(tmp_path / "cache")}
    reader = Mreg(tmp_path)
    truth = Mreg(tmp_path / "src")("show", "m", "--json").json
    assert reader("--repo", url, "show", "m", "--json", env=env).json == truth
    [index] = (tmp_path / "cache").glob("remotes/*/view/.mreg/models/m/_index.json")
    index.write_text('{"format": 1, "name": "m", "versions": 7}')
    assert reader("--repo", url, "show", "m", "--json", env=env).json == truth
    assert reader("--repo", url, "list", "--json", env=env).json == Mreg(tmp_path / "src")("list", "--json").json
    assert json.loads(index.read_text()) == _index(tmp_path / "src")  # the view was rebuilt
    source.update("m@1.0.0", metrics=["step=-1"])
    source.push()  # the view moves on from the remote's log, not from its damaged file
    assert reader("--repo", url, "show", "m@1.0.0", "--json", env=env).json["metrics"]["step"] == -1
