"""Everything under `.mreg/` is hostile input: a registry copied from elsewhere may
hold planted links, FIFOs, absurd file names and damaged objects. No value read
from it may make mreg write outside the registry or the requested destination,
follow a link inside `.mreg/`, block on a FIFO, or report damage that is not
there. Real links, real FIFOs, real processes; every command that could hang
runs under a timeout so that a regression fails instead of hanging."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from rel import cli, init_registry, scale, sha

# A command that blocks on a FIFO would wait forever: this much is plenty for any of them.
HANG = 20


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _object(project: Path, data: bytes) -> Path:
    hexdigest = _digest(data)
    return project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]


def _tree_state(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (never following a link), with what it holds."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                state[rel] = "link -> " + os.readlink(path)
            elif path.is_dir():
                state[rel] = "dir"
            elif path.is_file():
                state[rel] = sha(path.read_bytes())
            else:
                state[rel] = "special"
    return state


@pytest.fixture
def reg(tmp_path) -> Path:
    """A registry with model `m` (a.bin) and a sentinel folder beside it that nothing may touch."""
    project = init_registry(tmp_path / "project")
    (project / "a.bin").write_bytes(b"a\n")
    cli(project, "register", "m", "a.bin", "-q", expect=0)
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "precious.txt").write_bytes(b"do not touch")
    (sentinel / "sub").mkdir()
    (sentinel / "sub" / "deep.bin").write_bytes(b"deep")
    return project


def _sentinel(project: Path) -> Path:
    return project.parent / "sentinel"


def _edit_index(project: Path, name: str, change) -> None:
    path = project / ".mreg" / "models" / name / "_index.json"
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc, indent=1))


def _registry_state(project: Path) -> dict[str, str]:
    """The registry's files, less the lock (which every writer, and a dry run, takes)."""
    state = _tree_state(project / ".mreg")
    return {k: v for k, v in state.items() if k not in ("lock", "lock.json")}


# --- get's default destination ------------------------------------------------------

@pytest.mark.parametrize("bad", ["{outside}/pwned.bin", "../escaped.bin", "..", ".", "sub/x.bin", "a\x1b[2Jb",
                                 "a\nb", ""])
def test_get_never_writes_where_a_recorded_filename_says(reg, bad):
    outside = _sentinel(reg)
    if isinstance(bad, str):
        bad = bad.replace("{outside}", str(outside))
    _edit_index(reg, "m", lambda doc: doc["versions"]["1.0.0"].update(filename=bad))
    (reg / "sub").mkdir()
    before, here = _tree_state(outside), _tree_state(reg.parent)
    if bad == "":
        # No recorded name: the model's name is the default, as for registries made before names were kept.
        assert cli(reg, "get", "m", expect=0, timeout=HANG).out.strip() == "m"
        assert cli(reg, "verify", expect=0).code == 0
        return
    run = cli(reg, "get", "m", expect=3, timeout=HANG)
    assert run.err.startswith("mreg: error: m@1.0.0: the recorded filename"), run
    # Into an existing folder, the recorded name is used as well: refused alike.
    cli(reg, "get", "m", "-o", "sub", expect=3, timeout=HANG)
    assert _tree_state(outside) == before and _tree_state(reg.parent) == here
    report = cli(reg, "verify", "--json", expect=3).json
    assert [p["versions"] for p in report["problems"]] == [["m@1.0.0"]]
    assert "filename" in report["problems"][0]["problem"] and "1.0.0" in report["problems"][0]["problem"]
    # An explicit destination still works: the bytes are sound.
    cli(reg, "get", "m", "-o", "out.bin", expect=0)
    assert (reg / "out.bin").read_bytes() == b"a\n"


def test_a_recorded_filename_that_is_not_text_damages_the_index(reg):
    # A wrong type is caught where the index is read, for every command alike.
    _edit_index(reg, "m", lambda doc: doc["versions"]["1.0.0"].update(filename=7))
    run = cli(reg, "get", "m", expect=3, timeout=HANG)
    assert "filename" in run.err and "_index.json" in run.err
    report = cli(reg, "verify", "--json", expect=3).json
    assert any("filename" in p["problem"] for p in report["problems"])


def test_a_file_name_that_get_would_refuse_is_never_recorded(tmp_path):
    project = init_registry(tmp_path / "project")
    odd = project / "new\nline.bin"
    odd.write_bytes(b"odd")
    cli(project, "register", "odd", odd, "-q", expect=0)
    assert cli(project, "show", "odd@1.0.0", "--json", expect=0).json["filename"] == ""
    assert cli(project, "get", "odd", expect=0).out.strip() == "odd"
    assert (project / "odd").read_bytes() == b"odd"
    cli(project, "verify", expect=0)


# --- get -o DIR/ ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["file", "directory"])
@pytest.mark.parametrize("state", ["missing", "empty", "full"])
def test_get_into_a_folder_named_with_a_trailing_slash(reg, kind, state):
    if kind == "directory":
        (reg / "tree").mkdir()
        (reg / "tree" / "w.bin").write_bytes(b"w")
        cli(reg, "register", "d", "tree", "-q", expect=0)
    name = "m" if kind == "file" else "d"
    out = reg / "out"
    if state != "missing":
        out.mkdir()
    if state == "full":
        (out / "old.txt").write_bytes(b"old")
    run = cli(reg, "get", name, "-o", "out/", "--force")
    # A trailing slash means "into the folder out", made when missing (as a download would).
    assert run.code == 0, run
    if kind == "file":
        assert (out / "a.bin").read_bytes() == b"a\n"
        assert (out / "old.txt").exists() == (state == "full")
    else:
        assert sorted(os.listdir(out)) == ["w.bin"]
    assert [p for p in os.listdir(reg) if ".mreg-" in p] == []


# --- get resolves its reference once -------------------------------------------------

def test_get_reports_the_version_whose_bytes_it_wrote(reg):
    import mreg as api

    (reg / "b.bin").write_bytes(b"b\n")
    cli(reg, "register", "m", "b.bin", "-q", expect=0)
    cli(reg, "promote", "m@1.0.0", "--to", "production", "--reason", "t", "-q", expect=0)
    registry = api.open(str(reg))

    def promote_the_other(doc):
        # The production version changes between resolving and writing.
        api.open(str(reg)).promote("m@1.0.1", to="production", reason="race")
        return None

    done = registry.get_version("m@production", str(reg / "out.bin"), progress_for=promote_the_other)
    assert done["version"] == "1.0.0"
    assert "sha256:" + _digest((reg / "out.bin").read_bytes()) == done["digest"]


# --- verify beside rm and gc -----------------------------------------------------------

_CHURN = """
import os, sys, time
import mreg
registry = mreg.open(sys.argv[1])
tree = os.path.join(sys.argv[1], "churn")
os.mkdir(tree)
deadline = time.monotonic() + float(sys.argv[3])
previous = None
for i in range(int(sys.argv[2])):
    if time.monotonic() > deadline:
        break
    for j in range(4):
        with open(os.path.join(tree, f"{j}.bin"), "wb") as handle:
            handle.write(os.urandom(int(sys.argv[4])))
    version = registry.register("zz-churn", tree)["version"]
    if previous:  # the newest version stays until the next one is in: there is always one to get
        registry.remove("zz-churn@" + previous)
        registry.gc(grace="0s")
    previous = version
print(i + 1)
"""


@pytest.mark.parametrize("command", ["verify", "get"])
def test_no_damage_is_reported_that_is_not_there_beside_rm_and_gc(reg, command):
    import subprocess
    import sys

    # Versions that stay, hashed before the churning model's (names sort first),
    # so that each verify spends a while between reading the index and hashing.
    for i in range(2):
        tree = reg / f"keep{i}"
        tree.mkdir()
        for j in range(4):
            (tree / f"{j}.bin").write_bytes(os.urandom(2 << 20))
        cli(reg, "register", f"keep{i}", tree, "-q", expect=0)
    churn = subprocess.Popen([sys.executable, "-c", _CHURN, str(reg), str(scale(200, 3000)), str(scale(20, 120)),
                              # get's window is its own copy: larger files widen it.
                              str(64 << 10 if command == "verify" else 4 << 20)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = []
    try:
        while churn.poll() is None:
            if command == "verify":
                runs.append(cli(reg, "verify", "--json", timeout=60))
            else:
                # The version got may be removed before or while it is written: not found, never damaged.
                runs.append(cli(reg, "get", "zz-churn@latest", "-o", reg / "got", "--force", timeout=60))
    finally:
        out, err = churn.communicate(timeout=60)
    assert churn.returncode == 0 and not err, err
    false = [r for r in runs if r.code not in ((0,) if command == "verify" else (0, 1))]
    assert not false, f"{len(false)} of {len(runs)} {command} runs reported damage that was not there: {false[0]!r}"
    assert len(runs) >= 3 and int(out) >= 10, (len(runs), out)
    cli(reg, "verify", expect=0)


# --- gc never works through links, and a dry run changes nothing -----------------------

def _garbage(project: Path) -> None:
    (project / "g.bin").write_bytes(b"garbage")
    cli(project, "register", "g", "g.bin", "-q", expect=0)
    cli(project, "rm", "g@1.0.0", "-q", expect=0)


@pytest.mark.parametrize("where", ["intake", "objects", "models"])
def test_gc_refuses_a_registry_folder_that_is_a_link(reg, where):
    _garbage(reg)
    outside = _sentinel(reg)
    folder = reg / ".mreg" / where
    # The folder's real contents moved out, a link to the sentinel in its place.
    for name in os.listdir(folder):
        shutil.move(str(folder / name), str(outside / name)) if where != "intake" else None
    shutil.rmtree(folder)
    folder.symlink_to(outside)
    old = time.time() - 3 * 86400
    for root, dirs, files in os.walk(outside):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (old, old))
    before = _tree_state(outside)
    for args in (("gc", "--grace", "0s", "--dry-run"), ("gc", "--grace", "0s")):
        run = cli(reg, *args, timeout=HANG)
        assert run.code == 3, run
        assert f".mreg/{where}" in run.err and "link" in run.err, run
    assert _tree_state(outside) == before


def test_gc_passes_over_a_shard_folder_that_is_a_link(reg):
    outside = _sentinel(reg)
    shard = reg / ".mreg" / "objects" / "ee"
    fake = outside / ("e" * 62)
    fake.write_bytes(b"not an object")
    old = time.time() - 3 * 86400
    os.utime(fake, (old, old))
    shard.symlink_to(outside)
    before = _tree_state(outside)
    cli(reg, "gc", "--grace", "0s", expect=0, timeout=HANG)
    assert _tree_state(outside) == before


def test_register_never_writes_through_a_shard_folder_that_is_a_link(reg):
    outside = _sentinel(reg)
    data = b"fresh bytes"
    shard = _object(reg, data).parent
    shard.symlink_to(outside)
    before = _tree_state(outside)
    (reg / "f.bin").write_bytes(data)
    run = cli(reg, "register", "f", "f.bin", timeout=HANG)
    assert run.code == 3 and str(shard) in run.err, run
    assert _tree_state(outside) == before
    assert cli(reg, "list", "--json", expect=0).json[0]["name"] == "m"  # nothing registered


@pytest.mark.parametrize("where", ["models", "cache"])
def test_writes_never_go_through_a_registry_folder_that_is_a_link(reg, where):
    outside = _sentinel(reg)
    folder = reg / ".mreg" / where
    if folder.exists():
        shutil.rmtree(folder)
    folder.symlink_to(outside)
    before = _tree_state(outside)
    (reg / "b.bin").write_bytes(b"b")
    for args in (("register", "m", "b.bin"), ("register", "n", "b.bin"), ("list",), ("search", "name = 'm'"),
                 ("promote", "m@1.0.0", "--reason", "x")):
        run = cli(reg, *args, timeout=HANG)
        if where == "models":
            assert run.code == 3 and ".mreg/models" in run.err, run
    assert _tree_state(outside) == before


def test_a_planted_trash_link_moves_nothing_into_the_store(reg):
    outside = _sentinel(reg)
    victim = outside / ("ab" * 32)
    victim.write_bytes(b"outside file named like an object")
    dead = reg / ".mreg" / "intake" / ("0" * 32)
    dead.mkdir()
    (dead / "pins").write_bytes(b"")
    (dead / "trash").symlink_to(outside)
    before, store = _tree_state(outside), _registry_state(reg)
    cli(reg, "gc", "--dry-run", expect=0, timeout=HANG)
    assert _tree_state(outside) == before and _registry_state(reg) == store
    cli(reg, "gc", expect=0, timeout=HANG)
    assert _tree_state(outside) == before
    assert not _object(reg, b"outside file named like an object").exists()
    assert not (reg / ".mreg" / "objects" / "ab" / ("ab" * 31)).exists()


def test_a_dry_run_after_a_killed_gc_changes_nothing(reg):
    # What a gc killed between moving objects to its trash and deleting them leaves.
    obj = _object(reg, b"a\n")
    dead = reg / ".mreg" / "intake" / ("1" * 32)
    (dead / "trash").mkdir(parents=True)
    (dead / "pins").write_bytes(b"")
    os.rename(obj, dead / "trash" / (obj.parent.name + obj.name))
    old = time.time() - 3 * 86400
    os.utime(dead, (old, old))
    before = _registry_state(reg)
    for args in (("gc", "--dry-run"), ("gc", "--dry-run", "--grace", "0s"), ("gc", "--dry-run", "--json")):
        cli(reg, *args, expect=0, timeout=HANG)
        assert _registry_state(reg) == before, args
    cli(reg, "gc", expect=0, timeout=HANG)  # a real gc puts the object back
    assert obj.exists()
    cli(reg, "verify", expect=0)


# --- object file types ------------------------------------------------------------------

def test_an_object_replaced_by_a_fifo_never_blocks(reg):
    obj = _object(reg, b"a\n")
    obj.unlink()
    os.mkfifo(obj)
    for args in (("verify",), ("get", "m", "-o", "out.bin"), ("get", "m", "--path"), ("gc", "--grace", "0s")):
        run = cli(reg, *args, timeout=HANG)
        assert run.code == 3 if args[0] != "gc" else run.code == 0, run
        if args[0] != "gc":
            assert "FIFO" in run.out + run.err, run
    assert not (reg / "out.bin").exists()
    # Registering the same bytes again puts a real object back.
    run = cli(reg, "register", "m", "a.bin", expect=0, timeout=HANG)
    assert "repaired" in run.err
    assert obj.is_file() and not obj.is_fifo()
    cli(reg, "verify", expect=0)


def test_an_object_that_is_a_link_is_never_followed(reg):
    outside = _sentinel(reg)
    obj = _object(reg, b"a\n")
    copy = outside / "same-bytes.bin"
    copy.write_bytes(b"a\n")  # even the right bytes, through a link, are not an object
    obj.unlink()
    obj.symlink_to(copy)
    run = cli(reg, "verify", "--json", timeout=HANG)
    assert run.code == 3 and "symbolic link" in run.json["problems"][0]["problem"], run
    run = cli(reg, "get", "m", "--path", timeout=HANG)
    assert run.code == 3 and run.out == "", run
    assert cli(reg, "get", "m", "-o", "out.bin", timeout=HANG).code == 3
    assert not (reg / "out.bin").exists()


def test_get_path_prints_only_a_regular_file(reg):
    assert cli(reg, "get", "m", "--path", expect=0).out.strip() == str(_object(reg, b"a\n"))


# --- registering good bytes repairs a damaged object -----------------------------------

@pytest.mark.parametrize("damage", ["flip", "truncate", "grow", "link"])
def test_registering_the_original_bytes_repairs_a_damaged_object(reg, damage):
    data = os.urandom(300 << 10)
    (reg / "w.bin").write_bytes(data)
    cli(reg, "register", "w", "w.bin", "-q", expect=0)
    obj = _object(reg, data)
    os.chmod(obj, 0o644)
    if damage == "flip":
        with open(obj, "r+b") as handle:
            handle.seek(1000)
            handle.write(bytes([data[1000] ^ 0xFF]))
    elif damage == "truncate":
        os.truncate(obj, 1000)
    elif damage == "grow":
        with open(obj, "ab") as handle:
            handle.write(b"x")
    else:
        (reg / "elsewhere.bin").write_bytes(data)
        obj.unlink()
        obj.symlink_to(reg / "elsewhere.bin")
    cli(reg, "verify", expect=3)
    run = cli(reg, "register", "w", "w.bin", expect=0)
    assert "repaired" in run.err, run
    cli(reg, "verify", expect=0)
    for version in ("1.0.0", "1.0.1"):
        cli(reg, "get", f"w@{version}", "-o", f"out-{version}", expect=0)
        assert (reg / f"out-{version}").read_bytes() == data


def test_registering_a_directory_repairs_its_damaged_files_and_manifest(reg):
    tree = reg / "tree"
    tree.mkdir()
    (tree / "a.bin").write_bytes(b"file a" * 100)
    (tree / "b.bin").write_bytes(b"file b" * 100)
    cli(reg, "register", "d", "tree", "-q", expect=0)
    manifest = cli(reg, "show", "d@1.0.0", "--json", expect=0).json["digest"].split(":")[1]
    for path in (_object(reg, b"file a" * 100), reg / ".mreg" / "objects" / manifest[:2] / manifest[2:]):
        os.chmod(path, 0o644)
        os.truncate(path, 10)
    cli(reg, "verify", expect=3)
    cli(reg, "register", "d", "tree", "-q", expect=0)
    cli(reg, "verify", expect=0)


# --- FIFOs and links elsewhere in the registry -------------------------------------------

def test_an_object_replaced_by_a_socket_is_named_not_an_io_error(reg):
    import socket

    obj = _object(reg, b"a\n")
    obj.unlink()
    listener = socket.socket(socket.AF_UNIX)
    try:
        here = os.getcwd()
        os.chdir(obj.parent)  # a socket's path is limited to 108 bytes
        try:
            listener.bind(obj.name)  # open() of a socket fails with ENXIO
        finally:
            os.chdir(here)
        for args in (("verify",), ("get", "m", "-o", "out.bin")):
            run = cli(reg, *args, expect=3, timeout=HANG)
            assert "socket" in run.out + run.err, run
    finally:
        listener.close()


@pytest.mark.parametrize("where", ["models/m/_index.json", "models/m/_history.jsonl", "config.toml", "lock.json",
                                   "cache/models.json", "intake/x/pins"])
def test_a_fifo_anywhere_in_the_registry_never_blocks(reg, where):
    cli(reg, "list", expect=0)  # the cache exists
    path = reg / ".mreg" / where
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    for args in (("list",), ("show", "m@1.0.0"), ("history", "m"), ("verify",), ("register", "m", "a.bin"),
                 ("gc", "--grace", "0s")):
        run = cli(reg, *args, timeout=HANG)  # any exit code but never a hang or a traceback
        if where in ("models/m/_index.json", "config.toml") and args[0] != "list":
            assert run.code in (1, 3), run


@pytest.mark.parametrize("where", ["lock", "lock.json", "models/m/_history.jsonl"])
def test_writes_never_go_through_a_planted_link_to_a_file(reg, where):
    outside = _sentinel(reg)
    path = reg / ".mreg" / where
    if path.exists():
        path.unlink()
    path.symlink_to(outside / "precious.txt")
    before = _tree_state(outside)
    for args in (("register", "m", "a.bin"), ("promote", "m@1.0.0", "--reason", "x"), ("gc",)):
        cli(reg, *args, timeout=HANG)
    assert _tree_state(outside) == before


def test_lock_json_planted_as_a_fifo_with_a_reader_is_replaced_not_written(reg):
    path = reg / ".mreg" / "lock.json"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # someone listening at the other end
    try:
        cli(reg, "register", "m", "a.bin", "-q", expect=0, timeout=HANG)
        assert os.read(reader, 4096) == b""  # nothing about the lock holder went down the FIFO
    finally:
        os.close(reader)
    assert not path.exists()
