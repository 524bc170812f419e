"""`mreg get`: materialise an artifact byte for byte, verified, never outside DEST, never a link."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from mregtest import Mreg, peak_rss_of


def _hex(doc: dict) -> str:
    return doc["digest"].removeprefix("sha256:")


def _object(project, hexdigest: str):
    return project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]


def _tree(root) -> dict[str, tuple[bytes, bool]]:
    """Every file under root: bytes and executable bit; fails on any link."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            assert not os.path.islink(os.path.join(folder, name)), f"{name} is a link"
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = (open(path, "rb").read(), bool(os.stat(path).st_mode & 0o100))
    return found


def _make_model_dir(project):
    tree = project / "model"
    (tree / "tokenizer" / "deep").mkdir(parents=True)
    (tree / "config.json").write_bytes(b'{"hidden": 8}')
    (tree / "weights.bin").write_bytes(os.urandom(70_000))
    (tree / "tokenizer" / "deep" / "vocab.txt").write_bytes(b"a\nb\n")
    (tree / "empty.txt").write_bytes(b"")
    (tree / "run.sh").write_bytes(b"#!/bin/sh\necho serve\n")
    os.chmod(tree / "run.sh", 0o755)
    return tree


def test_get_a_file_byte_for_byte(mreg, project):
    data = os.urandom(123_457)
    (project / "m.bin").write_bytes(data)
    mreg("register", "m", "m.bin")
    r = mreg("get", "m@1.0.0", "-o", "out.bin")
    assert r.out.strip() == "out.bin"
    assert (project / "out.bin").read_bytes() == data
    assert not (project / "out.bin").is_symlink() and (project / "out.bin").stat().st_nlink == 1
    # Without -o: the original file name, here; into an existing folder: the file name inside it.
    (project / "elsewhere").mkdir()
    mreg("get", "m", cwd=project / "elsewhere")
    assert (project / "elsewhere" / "m.bin").read_bytes() == data
    (project / "into").mkdir()
    mreg("get", "m", "-o", "into")
    assert (project / "into" / "m.bin").read_bytes() == data
    doc = mreg("get", "m", "-o", "again.bin", "--json").json
    assert doc["path"] == "again.bin" and doc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_get_a_directory_byte_for_byte_with_executable_bits(mreg, project):
    tree = _make_model_dir(project)
    mreg("register", "m", "model")
    mreg("get", "m@1.0.0", "-o", "restored")
    restored = _tree(project / "restored")
    assert restored == _tree(tree)
    assert restored["run.sh"][1] is True and restored["config.json"][1] is False
    # An empty folder is a fine destination.
    (project / "emptydest").mkdir()
    mreg("get", "m", "-o", "emptydest")
    assert _tree(project / "emptydest") == _tree(tree)


def test_every_kind_of_reference(mreg, project):
    for i in range(3):
        (project / f"v{i}.bin").write_bytes(f"version {i}".encode())
    mreg("register", "m", "v0.bin")
    mreg("register", "m", "v1.bin", "--stage", "production")
    mreg("register", "m", "v2.bin", "--bump", "minor")
    cases = {"m@1.0.0": "version 0", "m@v1.0.1": "version 1", "m@production": "version 1",
             "m@latest": "version 2", "m": "version 2", "m@development": "version 2"}
    for i, (ref, content) in enumerate(cases.items()):
        mreg("get", ref, "-o", f"out{i}")
        assert (project / f"out{i}").read_text() == content, ref
    assert mreg("get", "m@9.9.9", "-o", "x", expect=1).err.startswith("mreg: error: m has no version 9.9.9")
    mreg("get", "m@staging", "-o", "x", expect=1)
    # Spelled like an alias: one that is not set is not found, as an absent version is; a selector
    # that can be no version, stage or alias is a usage error.
    assert "no alias or stage 'nonsense'" in mreg("get", "m@nonsense", "-o", "x", expect=1).err
    mreg("get", "m@Non.sense", "-o", "x", expect=2)
    mreg("get", "nosuch", "-o", "x", expect=1)
    mreg("get", "Bad", "-o", "x", expect=2)
    assert not (project / "x").exists()


def test_an_existing_destination_is_refused_unless_forced(mreg, project):
    (project / "m.bin").write_bytes(b"new bytes")
    mreg("register", "m", "m.bin")
    (project / "dest.bin").write_bytes(b"precious")
    r = mreg("get", "m", "-o", "dest.bin", expect=1)
    assert "already exists" in r.err and "--force" in r.err
    assert (project / "dest.bin").read_bytes() == b"precious"
    mreg("get", "m", "-o", "dest.bin", "--force")
    assert (project / "dest.bin").read_bytes() == b"new bytes"
    # A non-empty folder for a directory artifact.
    tree = _make_model_dir(project)
    mreg("register", "d", "model")
    (project / "full").mkdir()
    (project / "full" / "keep.txt").write_bytes(b"keep")
    mreg("get", "d", "-o", "full", expect=1)
    assert _tree(project / "full") == {"keep.txt": (b"keep", False)}
    mreg("get", "d", "-o", "full", "-f")
    assert _tree(project / "full") == _tree(tree)
    assert sorted(os.listdir(project)) == sorted(["m.bin", "dest.bin", "model", "full", ".mreg"])


def test_a_corrupt_object_fails_with_exit_3_and_leaves_nothing(mreg, project):
    (project / "m.bin").write_bytes(b"good bytes" * 1000)
    doc = mreg("register", "m", "m.bin", "--json").json
    stored = _object(project, _hex(doc))
    os.chmod(stored, 0o644)
    with open(stored, "r+b") as handle:
        handle.seek(5000)
        handle.write(b"X")
    before = sorted(os.listdir(project))
    r = mreg("get", "m", "-o", "out.bin", expect=3)
    assert "corrupt" in r.err and _hex(doc)[:12] in r.err
    assert sorted(os.listdir(project)) == before
    # With --force, the old destination survives a failed get.
    (project / "out.bin").write_bytes(b"old")
    mreg("get", "m", "-o", "out.bin", "--force", expect=3)
    assert (project / "out.bin").read_bytes() == b"old"


def test_a_corrupt_file_inside_a_directory_leaves_nothing(mreg, project):
    tree = _make_model_dir(project)
    mreg("register", "m", "model")
    vocab = _object(project, hashlib.sha256((tree / "tokenizer" / "deep" / "vocab.txt").read_bytes()).hexdigest())
    vocab.unlink()
    before = sorted(os.listdir(project))
    r = mreg("get", "m", "-o", "out", expect=3)
    assert "missing" in r.err
    assert sorted(os.listdir(project)) == before


def _point_version_at(project, name: str, manifest: bytes) -> None:
    """Tamper with the registry the way an attacker with write access could: store a hand-made
    manifest as a sound object (its digest matches its bytes) and point the index at it."""
    hexdigest = hashlib.sha256(manifest).hexdigest()
    path = _object(project, hexdigest)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(manifest)
    index_path = project / ".mreg" / "models" / name / "_index.json"
    index = json.loads(index_path.read_text())
    for record in index["versions"].values():
        record["digest"] = "sha256:" + hexdigest
    index_path.write_text(json.dumps(index))


def test_a_tampered_manifest_never_writes_outside_dest(mreg, project, tmp_path):
    tree = _make_model_dir(project)
    mreg("register", "m", "model")
    payload = "sha256:" + hashlib.sha256((tree / "config.json").read_bytes()).hexdigest()
    target = tmp_path / "pwned"
    for bad in ["../escape.txt", "../../escape.txt", str(target), "ok/../../escape.txt", "a/./b"]:
        manifest = json.dumps({"format": 1, "files": [
            {"path": "fine.txt", "digest": payload, "size": 13, "executable": False},
            {"path": bad, "digest": payload, "size": 13, "executable": False},
        ]}).encode()
        _point_version_at(project, "m", manifest)
        dest = project / "deep" / "dest"
        dest.parent.mkdir(exist_ok=True)
        r = mreg("get", "m", "-o", "deep/dest", expect=3)
        assert "unsafe path" in r.err
        assert os.listdir(project / "deep") == []
        assert not (project / "escape.txt").exists() and not (project.parent / "escape.txt").exists()
        assert not target.exists()
        assert "unsafe path" in mreg("verify", expect=3).out


def test_get_path_prints_the_read_only_stored_file(mreg, project):
    data = b"serve me in place"
    (project / "m.bin").write_bytes(data)
    doc = mreg("register", "m", "m.bin", "--json").json
    r = mreg("get", "m@1.0.0", "--path")
    path = r.out.strip()
    assert path == str(_object(project, _hex(doc)))
    assert open(path, "rb").read() == data
    assert os.stat(path).st_mode & 0o777 == 0o444
    assert mreg("get", "m", "--path", "--json").json == {"path": path}
    assert mreg("get", "m", "--path", "-q").out == ""
    assert "--output" in mreg("get", "m", "--path", "-o", "x.bin", expect=2).err
    assert not (project / "x.bin").exists()
    _make_model_dir(project)
    mreg("register", "d", "model")
    assert "directory" in mreg("get", "d", "--path", expect=2).err
    os.unlink(path)
    mreg("get", "m", "--path", expect=3)


def test_get_makes_the_missing_folders_of_its_destination(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin")
    assert mreg("get", "m", "-o", "no/such/folder/out.bin").out == "no/such/folder/out.bin\n"
    assert (project / "no/such/folder/out.bin").read_bytes() == b"x"
    # A trailing slash means "into this folder", as with cp: made too, the file keeps its name.
    assert mreg("get", "m", "-o", "newdir/").out == "newdir/m.bin\n"
    assert (project / "newdir/m.bin").read_bytes() == b"x"
    # A file where a folder should be is refused, and nothing is made.
    r = mreg("get", "m", "-o", "m.bin/sub/out.bin", expect=1)
    assert r.err.startswith("mreg: error: cannot write m.bin/sub/out.bin: a file stands where")
    # Nothing is made inside the registry, or when the destination is refused.
    mreg("get", "m", "-o", ".mreg/new/out.bin", expect=1)
    assert not (project / ".mreg/new").exists()
    mreg("get", "m", "-o", "newdir/m.bin", expect=1)
    assert [n for n in os.listdir(project) if n.startswith(".mreg-get")] == []


def test_the_api_makes_the_missing_folders_of_its_destination(registry, project):
    (project / "m.bin").write_bytes(b"x")
    registry.register("m", str(project / "m.bin"))
    written = registry.get("m@latest", str(project / "serving" / "model.bin"))
    assert written == str(project / "serving" / "model.bin")
    assert (project / "serving" / "model.bin").read_bytes() == b"x"


def test_get_streams_in_constant_memory(mreg, project, registry):
    size = 256 << 20
    with open(project / "big.bin", "wb") as handle:
        handle.truncate(size)
        handle.write(os.urandom(4096))
    registry.register("big", str(project / "big.bin"))
    (project / "big.bin").unlink()
    peak = peak_rss_of(project, "get", "big", "-o", "copy.bin")
    assert peak < 128 << 20, f"get of a {size >> 20} MiB artifact peaked at {peak >> 20} MiB"
    assert (project / "copy.bin").stat().st_size == size


def test_get_never_writes_into_or_over_the_registry(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"model")
    (project / "dir").mkdir()
    (project / "dir" / "a.txt").write_bytes(b"a")
    mreg("register", "m", "m.bin")
    mreg("register", "d", "dir")
    config = (project / ".mreg" / "config.toml").read_bytes()
    for args in (("m", "-o", ".mreg/config.toml", "--force"), ("m", "-o", ".mreg/objects/x"),
                 ("m", "-o", ".mreg", "--force"), ("d", "-o", ".", "--force")):
        r = mreg("get", *args, expect=1)
        assert r.err.startswith("mreg: error:") and "registry" in r.err, args
    r = Mreg(tmp_path)("--repo", str(project), "get", "d", "-o", str(project), "--force", expect=1)
    assert "registry" in r.err
    assert (project / ".mreg" / "config.toml").read_bytes() == config
    assert not (project / ".mreg" / "objects" / "x").exists()
    mreg("verify")
    # An empty destination (an unset variable in a script) is a usage error, not the default name.
    (project / "m.bin").unlink()
    mreg("get", "m", "-o", "", expect=2)
    assert not (project / "m.bin").exists()
