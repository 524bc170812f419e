"""The content-addressed object store and artifacts, in the core directly."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat

import pytest

from mreg.core.artifact import (encode_manifest, load_manifest, materialize, referenced_objects, scan_directory,
                                store_artifact)
from mreg.core.layout import Layout
from mreg.core.store import Intake, ObjectStore, format_digest, parse_digest
from mreg.errors import IntegrityError, UsageError


@pytest.fixture
def store(tmp_path) -> ObjectStore:
    root = tmp_path / "reg" / ".mreg"
    for sub in ("objects", "models", "intake"):
        (root / sub).mkdir(parents=True)
    return ObjectStore(Layout(str(root)))


def _put(store: ObjectStore, path, **options):
    with Intake(store.layout) as intake:
        return store_artifact(store, str(path), intake, **options)


def _object_files(store: ObjectStore) -> list[str]:
    found = []
    for folder, _, files in os.walk(store.layout.objects):
        found += [os.path.join(folder, f) for f in files]
    return sorted(found)


def test_a_file_is_stored_under_the_sha256_of_its_bytes(store, tmp_path):
    data = os.urandom(5000)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    stored = _put(store, source)
    hexdigest = hashlib.sha256(data).hexdigest()
    assert stored.digest == "sha256:" + hexdigest
    assert (stored.kind, stored.size, stored.files, stored.filename) == ("file", 5000, 1, "model.bin")
    assert stored.objects == [hexdigest]
    path = store.path(hexdigest)
    assert path == os.path.join(store.layout.objects, hexdigest[:2], hexdigest[2:])
    assert open(path, "rb").read() == data
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    assert _object_files(store) == [path]


def test_large_files_hash_right_by_both_copy_paths(store, tmp_path):
    from mreg.core.copying import copy_by_hand

    data = os.urandom(9 << 20) + b"tail"  # past the 8 MiB in-kernel threshold, not a multiple of the chunk
    (tmp_path / "big.bin").write_bytes(data)
    stored = _put(store, tmp_path / "big.bin")
    assert stored.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert open(store.path(parse_digest(stored.digest)), "rb").read() == data
    # The by-hand fallback (another filesystem, an old kernel) gives the same answer.
    src = os.open(tmp_path / "big.bin", os.O_RDONLY)
    dst = os.open(tmp_path / "copy.bin", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert copy_by_hand(src, dst, len(data)) == (hashlib.sha256(data).hexdigest(), len(data))
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_identical_bytes_are_stored_once(store, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"same bytes")
    (tmp_path / "b.bin").write_bytes(b"same bytes")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "x").write_bytes(b"same bytes")
    (tree / "sub" / "y").write_bytes(b"same bytes")
    first = _put(store, tmp_path / "a.bin")
    second = _put(store, tmp_path / "b.bin")
    directory = _put(store, tree)
    assert first.digest == second.digest
    assert len(_object_files(store)) == 2  # the bytes once, plus the manifest
    assert set(directory.objects) == {parse_digest(first.digest), parse_digest(directory.digest)}


def test_user_files_are_copied_never_linked(store, tmp_path):
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    stored = _put(store, source)
    object_info = os.stat(store.path(parse_digest(stored.digest)))
    source_info = os.stat(source)
    assert source_info.st_nlink == 1 and object_info.st_nlink == 1
    assert (source_info.st_dev, source_info.st_ino) != (object_info.st_dev, object_info.st_ino)
    source.write_bytes(b"edited afterwards")
    assert open(store.path(parse_digest(stored.digest)), "rb").read() == b"weights"


def test_a_directory_becomes_a_manifest_object(store, tmp_path):
    tree = tmp_path / "model"
    (tree / "sub").mkdir(parents=True)
    (tree / "config.json").write_bytes(b"{}")
    (tree / "run.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(tree / "run.sh", 0o755)
    (tree / "sub" / "w.bin").write_bytes(b"\x00" * 10)
    stored = _put(store, tree)
    assert (stored.kind, stored.files, stored.size, stored.filename) == ("directory", 3, 22, "model")
    manifest_hex = parse_digest(stored.digest)
    raw = open(store.path(manifest_hex), "rb").read()
    assert hashlib.sha256(raw).hexdigest() == manifest_hex
    files = json.loads(raw)["files"]
    assert files == [
        {"path": "config.json", "digest": format_digest(hashlib.sha256(b"{}").hexdigest()), "size": 2, "executable": False},
        {"path": "run.sh", "digest": format_digest(hashlib.sha256(b"#!/bin/sh\n").hexdigest()), "size": 10, "executable": True},
        {"path": "sub/w.bin", "digest": format_digest(hashlib.sha256(b"\x00" * 10).hexdigest()), "size": 10, "executable": False},
    ]
    assert load_manifest(store, manifest_hex) == files
    assert sorted(referenced_objects(store, stored.digest, "directory")) == sorted(stored.objects)
    # Equal trees give equal digests, whatever order the filesystem lists them in.
    assert encode_manifest(list(reversed(files))) == raw


def test_intake_is_removed_after_storing(store, tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    _put(store, tmp_path / "f")
    assert os.listdir(store.layout.intake) == []


def test_materialize_restores_bytes_and_executable_bits(store, tmp_path):
    tree = tmp_path / "model"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "deep.bin").write_bytes(os.urandom(300))
    (tree / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(tree / "tool", 0o755)
    stored = _put(store, tree)
    out = tmp_path / "out"
    materialize(store, stored.digest, "directory", str(out))
    assert (out / "a" / "b" / "deep.bin").read_bytes() == (tree / "a" / "b" / "deep.bin").read_bytes()
    assert os.stat(out / "tool").st_mode & 0o111
    assert not os.stat(out / "a" / "b" / "deep.bin").st_mode & 0o111
    assert sorted(os.listdir(tmp_path)) == ["model", "out", "reg"]  # no temporary folder left


def _fake_directory_version(store: ObjectStore, files: list[dict]) -> str:
    """Store a hand-made manifest as a sound object (its digest matches) and return its digest."""
    data = json.dumps({"format": 1, "files": files}).encode()
    with Intake(store.layout) as intake:
        return format_digest(store.put_bytes(data, intake))


@pytest.mark.parametrize("bad", ["../escape", "/tmp/absolute", "a/../../escape", "./x", "a//b", "a\\..\\b", ""])
def test_a_manifest_with_an_unsafe_path_writes_nothing(store, tmp_path, bad):
    (tmp_path / "f").write_bytes(b"payload")
    payload = _put(store, tmp_path / "f")
    digest = _fake_directory_version(store, [
        {"path": "fine.txt", "digest": payload.digest, "size": 7, "executable": False},
        {"path": bad, "digest": payload.digest, "size": 7, "executable": False},
    ])
    dest = tmp_path / "deep" / "dest"
    dest.parent.mkdir()
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(IntegrityError, match="unsafe path"):
        materialize(store, digest, "directory", str(dest))
    assert not dest.exists()
    assert sorted(os.listdir(tmp_path)) == before and os.listdir(dest.parent) == []
    assert not os.path.exists("/tmp/absolute")


@pytest.mark.parametrize(
    "files",
    [
        [{"path": "a", "digest": "D"}, {"path": "a", "digest": "D"}],
        [{"path": "a", "digest": "D"}, {"path": "a/b", "digest": "D"}],
        [{"path": "a", "digest": "sha256:nothex"}],
        ["not an object"],
    ],
)
def test_malformed_manifests_are_integrity_errors(store, tmp_path, files):
    (tmp_path / "f").write_bytes(b"payload")
    payload = _put(store, tmp_path / "f")
    files = [dict(f, digest=payload.digest if f["digest"] == "D" else f["digest"]) if isinstance(f, dict) else f
             for f in files]
    digest = _fake_directory_version(store, files)
    with pytest.raises(IntegrityError):
        materialize(store, digest, "directory", str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()


def test_corrupt_or_missing_objects_are_caught_on_the_way_out(store, tmp_path):
    (tmp_path / "f").write_bytes(b"original bytes")
    stored = _put(store, tmp_path / "f")
    hexdigest = parse_digest(stored.digest)
    assert store.check(hexdigest) is None
    path = store.path(hexdigest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.write(b"O")
    assert "corrupt" in store.check(hexdigest)
    with pytest.raises(IntegrityError, match="corrupt"):
        materialize(store, stored.digest, "file", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    os.unlink(path)
    assert store.check(hexdigest) == "missing"
    with pytest.raises(IntegrityError, match="missing"):
        store.read_verified(hexdigest)


def test_parse_digest_refuses_malformed_digests():
    assert parse_digest("sha256:" + "ab" * 32) == "ab" * 32
    # A digest becomes a path under objects/: nothing but 64 lowercase hex digits may pass.
    for bad in ["", "ab" * 32, "sha256:" + "AB" * 32, "sha256:" + "ab" * 31, "md5:" + "ab" * 32,
                "sha256:" + "../" * 21 + "a", "sha256:" + "ab" * 31 + "a\n"]:
        with pytest.raises(IntegrityError):
            parse_digest(bad)


# --- symbolic links and special files (SPEC §7) -----------------------------
def test_a_link_inside_the_directory_is_stored_as_its_target_bytes(store, tmp_path):
    tree = tmp_path / "model"
    (tree / "blobs").mkdir(parents=True)
    (tree / "blobs" / "abc").write_bytes(b"real weights")
    os.symlink("blobs/abc", tree / "model.bin")
    os.symlink("blobs", tree / "alias")
    stored = _put(store, tree)
    files = {e["path"]: e for e in load_manifest(store, parse_digest(stored.digest))}
    assert set(files) == {"alias/abc", "blobs/abc", "model.bin"}
    assert files["model.bin"]["digest"] == format_digest(hashlib.sha256(b"real weights").hexdigest())
    out = tmp_path / "out"
    materialize(store, stored.digest, "directory", str(out))
    for folder, dirs, names in os.walk(out):
        for entry in dirs + names:
            assert not os.path.islink(os.path.join(folder, entry))


def test_outside_dangling_and_special_entries_are_all_listed(store, tmp_path):
    tree = tmp_path / "model"
    tree.mkdir()
    (tree / "ok.bin").write_bytes(b"fine")
    (tmp_path / "secret").write_bytes(b"outside")
    os.symlink("../secret", tree / "out-link")
    os.symlink("missing", tree / "dangling")
    os.mkfifo(tree / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tree / "sock"))
    try:
        with pytest.raises(UsageError) as caught:
            scan_directory(str(tree), follow_symlinks=False)
        message = caught.value.message
        for offender in ("out-link -> ../secret (points outside", "dangling -> missing (dangling link)",
                         "pipe (FIFO)", "sock (socket)"):
            assert offender in message
        assert "ok.bin" not in message
        # Following links fixes the outside link but never the rest.
        with pytest.raises(UsageError) as caught:
            scan_directory(str(tree), follow_symlinks=True)
        assert "out-link" not in caught.value.message and "dangling" in caught.value.message
    finally:
        server.close()
    assert _object_files(store) == []


def test_follow_symlinks_stores_outside_targets(store, tmp_path):
    tree = tmp_path / "snapshot"
    tree.mkdir()
    (tmp_path / "blob").write_bytes(b"cached blob")
    os.symlink(str(tmp_path / "blob"), tree / "model.safetensors")
    with pytest.raises(UsageError):
        _put(store, tree)
    stored = _put(store, tree, follow_symlinks=True)
    (entry,) = load_manifest(store, parse_digest(stored.digest))
    assert entry["path"] == "model.safetensors"
    assert entry["digest"] == format_digest(hashlib.sha256(b"cached blob").hexdigest())


def test_a_link_loop_is_refused(store, tmp_path):
    tree = tmp_path / "model"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_bytes(b"x")
    os.symlink("..", tree / "sub" / "up")
    with pytest.raises(UsageError, match="loop"):
        scan_directory(str(tree), follow_symlinks=True)


def test_an_empty_directory_is_refused(store, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no files"):
        _put(store, tmp_path / "empty")


def test_the_registry_folder_is_left_out_of_a_directory_artifact(store, tmp_path):
    project = tmp_path / "reg"  # holds .mreg/ (the store's root) beside the model's files
    (project / "model.bin").write_bytes(b"m")
    stored = _put(store, project)
    assert [e["path"] for e in load_manifest(store, parse_digest(stored.digest))] == ["model.bin"]
    with pytest.raises(UsageError, match="inside the registry"):
        _put(store, project / ".mreg" / "objects")


def test_a_file_that_vanishes_after_the_scan_is_a_clear_refusal(tmp_path):
    from mreg.core.artifact import scan_directory
    from mreg.core.store import open_regular
    from mreg.errors import RefusedError

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "gone.bin").write_bytes(b"soon gone")
    [source] = scan_directory(str(tree), follow_symlinks=False)
    (tree / "gone.bin").unlink()
    with pytest.raises(RefusedError, match="disappeared while being stored"):
        open_regular(source.path, follow=False, expect=source.info)


# --- nothing under objects/ is trusted ------------------------------------------------

def _in_thread(call, timeout=10):
    """Run `call` on a thread and fail (rather than hang) if it blocks."""
    import threading

    result = {}

    def run():
        try:
            result["value"] = call()
        except BaseException as exc:  # handed to the test below
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{call} blocked"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_an_object_that_is_a_fifo_is_reported_never_read(store, tmp_path):
    (tmp_path / "f").write_bytes(b"bytes")
    hexdigest = parse_digest(_put(store, tmp_path / "f").digest)
    os.unlink(store.path(hexdigest))
    os.mkfifo(store.path(hexdigest))
    assert _in_thread(lambda: store.check(hexdigest)) == "a FIFO, not a regular file"
    with pytest.raises(IntegrityError, match="FIFO"):
        _in_thread(lambda: store.read_verified(hexdigest))
    assert not store.exists(hexdigest)


def test_an_object_that_is_a_link_is_never_followed(store, tmp_path):
    (tmp_path / "f").write_bytes(b"bytes")
    (tmp_path / "copy").write_bytes(b"bytes")
    hexdigest = parse_digest(_put(store, tmp_path / "f").digest)
    os.unlink(store.path(hexdigest))
    os.symlink(tmp_path / "copy", store.path(hexdigest))
    assert store.check(hexdigest) == "a symbolic link, not a regular file"
    with pytest.raises(IntegrityError, match="symbolic link"):
        materialize(store, "sha256:" + hexdigest, "file", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_shard_or_store_folder_that_is_a_link_is_never_written_through(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data = b"new bytes"
    hexdigest = hashlib.sha256(data).hexdigest()
    os.symlink(outside, os.path.join(store.layout.objects, hexdigest[:2]))
    (tmp_path / "f").write_bytes(data)
    with pytest.raises(IntegrityError, match="symbolic link"):
        _put(store, tmp_path / "f")
    assert os.listdir(outside) == []
    assert store.check(hexdigest).startswith("out of reach")
    # Links in place of shards are passed over; a link in place of objects/ is refused.
    (outside / ("0" * 62)).write_bytes(b"x")
    assert list(store.iter_objects()) == []
    import shutil

    shutil.rmtree(store.layout.objects)  # removes the shard link, never what it points to
    os.symlink(outside, store.layout.objects)
    with pytest.raises(IntegrityError, match="objects"):
        list(ObjectStore(store.layout).iter_objects())


def test_storing_intact_bytes_repairs_a_damaged_object(store, tmp_path, monkeypatch):
    import mreg.core.store as store_mod

    data = os.urandom(50_000)
    (tmp_path / "f").write_bytes(data)
    hexdigest = parse_digest(_put(store, tmp_path / "f").digest)
    path = store.path(hexdigest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.write(bytes([data[0] ^ 1]))  # same size, one byte flipped
    _put(store, tmp_path / "f")
    assert store.check(hexdigest) is None and os.stat(path).st_mode & 0o777 == 0o444
    # Above the re-hash limit only the size is compared: a flipped byte stays
    # (verify finds it), a wrong size is repaired.
    monkeypatch.setattr(store_mod, "_RECHECK_MAX", 1000)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.write(bytes([data[0] ^ 1]))
    _put(store, tmp_path / "f")
    assert store.check(hexdigest) is not None
    os.truncate(path, 10)
    _put(store, tmp_path / "f")
    assert store.check(hexdigest) is None
