"""artifact: the canonical manifest of a directory and the file name a version records."""

from __future__ import annotations

import json

import pytest

from mreg.core.artifact import encode_manifest, filename_fault, scan_directory


def test_the_manifest_is_canonical_whatever_the_order_of_its_entries():
    entries = [{"path": "b", "digest": "sha256:" + "b" * 64, "size": 1},
               {"path": "a/x", "digest": "sha256:" + "a" * 64, "size": 2, "executable": True}]
    data = encode_manifest(entries)
    assert data == encode_manifest(list(reversed(entries)))
    assert b" " not in data
    document = json.loads(data)
    assert [e["path"] for e in document["files"]] == ["a/x", "b"]


@pytest.mark.parametrize("name, fault", [
    ("model.safetensors", None), ("ünï code.bin", None),
    ("", "is empty or not text"), (None, "is empty or not text"), ("..", "is '..'"),
    ("a/b", "'a/b' is a path, not a plain name"), ("bad\x1bname", "'bad\\x1bname' holds control characters"),
])
def test_filename_fault(name, fault):
    assert filename_fault(name) == fault


def test_a_scan_lists_files_by_relative_path_and_skips_the_folder_asked(tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / ".mreg" / "objects").mkdir(parents=True)
    (tree / ".mreg" / "objects" / "x").write_bytes(b"registry bytes")
    (tree / "a.bin").write_bytes(b"a")
    (tree / "sub" / "b.bin").write_bytes(b"b")
    listed = sorted(f.relpath for f in scan_directory(str(tree), follow_symlinks=False, skip=str(tree / ".mreg")))
    assert listed == ["a.bin", "sub/b.bin"]
