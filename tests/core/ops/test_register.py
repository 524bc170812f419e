"""register: the next version of a model, its document, and what it refuses before storing anything."""

from __future__ import annotations

import hashlib
import os

import pytest

from mreg.errors import NotFoundError, RefusedError, UsageError


def _objects(reg) -> list[str]:
    return sorted(f for _, _, files in os.walk(os.path.join(reg.root, "objects")) for f in files)


def test_versions_count_up_by_the_part_bumped(reg, artifact):
    assert reg.register("m", artifact(b"a"))["version"] == "1.0.0"
    assert reg.register("m", artifact(b"b"))["version"] == "1.0.1"
    assert reg.register("m", artifact(b"c"), bump="minor")["version"] == "1.1.0"
    assert reg.register("m", artifact(b"d"), bump="major")["version"] == "2.0.0"
    assert reg.register("m", artifact(b"e"), version="7.0.0")["version"] == "7.0.0"
    assert [d["version"] for d in reg.versions("m")] == ["1.0.0", "1.0.1", "1.1.0", "2.0.0", "7.0.0"]


def test_the_document_names_the_bytes_and_the_metadata(reg, artifact):
    data = b"weights"
    doc = reg.register("m", artifact(data), metrics=["acc=0.5"], params=["lr=0.1"], tags=["team=x"],
                       description="d", framework="torch")
    assert doc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (doc["size"], doc["kind"], doc["files"], doc["filename"]) == (len(data), "file", 1, "model.bin")
    assert (doc["metrics"], doc["params"], doc["tags"]) == ({"acc": 0.5}, {"lr": 0.1}, {"team": "x"})
    assert (doc["description"], doc["framework"], doc["stage"]) == ("d", "torch", "development")
    assert doc["created_by"] == "tester@example.com"
    assert reg.show("m@1.0.0") == {**doc, "aliases": []}  # show adds the aliases pointing at it


def test_a_directory_is_one_version_of_kind_directory(reg, tmp_path):
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"a")
    (folder / "sub" / "b.txt").write_bytes(b"bb")
    doc = reg.register("d", str(folder))
    assert (doc["kind"], doc["files"], doc["size"]) == ("directory", 2, 3)


def test_same_bytes_are_stored_once(reg, artifact):
    reg.register("m", artifact(b"same"))
    reg.register("other", artifact(b"same"))
    assert len(_objects(reg)) == 1


def test_register_with_stage_walks_the_promotion_path(reg, artifact):
    doc = reg.register("m", artifact(b"x"), stage="production")
    assert doc["stage"] == "production"
    steps = [(e["action"], e["to"]) for e in reversed(reg.history("m"))]
    assert steps == [("register", "development"), ("promote", "testing"), ("promote", "staging"),
                     ("promote", "production")]


@pytest.mark.parametrize("name, path, options, error", [
    ("Bad Name!", None, {}, UsageError),
    ("m", None, {"version": "1.0.0", "bump": "minor"}, UsageError),
    ("m", None, {"bump": "huge"}, UsageError),
    ("m", None, {"version": "one"}, UsageError),
    ("m", None, {"stage": "nowhere"}, UsageError),
    ("m", None, {"metrics": ["acc"]}, UsageError),
    ("m", "missing.bin", {}, RefusedError),
])
def test_refusals_store_nothing(reg, artifact, tmp_path, name, path, options, error):
    source = str(tmp_path / path) if path else artifact(b"refused")
    with pytest.raises(error):
        reg.register(name, source, **options)
    assert _objects(reg) == [] and reg.list() == []
    with pytest.raises(NotFoundError):
        reg.show("m")


def test_an_existing_version_is_refused(reg, artifact):
    reg.register("m", artifact(b"a"), version="1.0.0")
    with pytest.raises(RefusedError):
        reg.register("m", artifact(b"b"), version="1.0.0")
    assert reg.show("m@1.0.0")["size"] == 1 and len(reg.versions("m")) == 1
