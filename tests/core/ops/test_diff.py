"""diff: what changed from one version to another, section by section."""

from __future__ import annotations

import pytest

from mreg.errors import NotFoundError


def test_metadata_changes_say_added_removed_changed_with_deltas(reg, artifact):
    reg.register("m", artifact(b"a"), metrics=["acc=0.5", "loss=1"], tags=["t=x"])
    reg.register("m", artifact(b"bb"), metrics=["acc=0.75", "f1=0.5"], tags=["t=x"])
    result = reg.diff("m@1.0.0", "m@1.0.1")
    assert result["metrics"] == {
        "acc": {"left": 0.5, "right": 0.75, "change": "changed", "delta": 0.25},
        "loss": {"left": 1, "right": None, "change": "removed"},
        "f1": {"left": None, "right": 0.5, "change": "added"},
    }
    assert result["tags"] == {"t": {"left": "x", "right": "x", "change": "unchanged"}}
    assert result["same_artifact"] is False and result["fields"]["size"] == {"left": 1, "right": 2, "delta": 1}
    assert (result["left"]["version"], result["right"]["version"]) == ("1.0.0", "1.0.1")
    assert result["files"] is None  # files are compared only between directories


def test_the_same_bytes_are_the_same_artifact(reg, artifact):
    reg.register("m", artifact(b"a"))
    reg.register("m", artifact(b"a"), description="again")
    result = reg.diff("m@1.0.0", "m@1.0.1")
    assert result["same_artifact"] is True and "digest" not in result["fields"]


def test_directories_are_compared_file_by_file(reg, tmp_path):
    for version, files in (("1", {"a": b"a", "b": b"b"}), ("2", {"a": b"A", "c": b"c"})):
        folder = tmp_path / version
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        reg.register("d", str(folder))
    files = reg.diff("d@1.0.0", "d@1.0.1")["files"]
    assert [f["path"] for f in files["added"]] == ["c"]
    assert [f["path"] for f in files["removed"]] == ["b"]
    assert [(f["path"], f["left_size"], f["right_size"]) for f in files["changed"]] == [("a", 1, 1)]
    assert files["unchanged"] == 0


def test_an_unknown_side_is_not_found(reg, artifact):
    reg.register("m", artifact(b"a"))
    with pytest.raises(NotFoundError):
        reg.diff("m@1.0.0", "m@2.0.0")
