"""The read cache under `.mreg/cache/`: derived data that never changes an answer.

Through the Python API: whatever the cache holds (current, stale, damaged
or gone), `list` and `search` answer what the index files say.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import mreg


def _age(reg, seconds: float = 60) -> None:
    """Date every index file back, so that the cache trusts what it derives from them."""
    old = time.time() - seconds
    for folder, _, files in os.walk(os.path.join(reg.root, "models")):
        for name in files:
            os.utime(os.path.join(folder, name), (old, old))


def _cache_files(reg) -> list[str]:
    return sorted(os.path.join(folder, name) for folder, _, files in os.walk(os.path.join(reg.root, "cache"))
                  for name in files)


@pytest.fixture
def filled(tmp_path):
    reg = mreg.init(str(tmp_path / "p"))
    for i, name in enumerate(("a", "team/b", "c")):
        (tmp_path / f"w{i}").write_bytes(f"weights {i}".encode())
        reg.register(name, str(tmp_path / f"w{i}"), metrics=[f"acc=0.{i + 5}"])
    _age(reg)
    return reg


def _answers(reg) -> tuple:
    return (reg.list(), reg.search("metrics.acc > 0.55", sort="name"), reg.search(sort="name"))


def test_the_cache_is_written_and_gives_the_same_answers(filled):
    first = _answers(filled)
    assert [r["name"] for r in first[0]] == ["a", "c", "team/b"]
    assert [d["name"] for d in first[1]] == ["c", "team/b"]
    assert _cache_files(filled)  # list and search left derived files behind
    assert _answers(filled) == first
    assert _answers(mreg.open(filled.root)) == first


def test_every_change_is_seen_at_once(filled, tmp_path):
    _answers(filled)
    (tmp_path / "new").write_bytes(b"new")
    filled.register("a", str(tmp_path / "new"), metrics=["acc=0.9"])
    filled.remove("c@1.0.0")
    filled.update("team/b@1.0.0", metrics=["acc=0.1"])
    rows = {r["name"]: r["versions"] for r in filled.list()}
    assert rows == {"a": 2, "team/b": 1}
    assert [(d["name"], d["version"]) for d in filled.search("metrics.acc > 0.55")] == [("a", "1.0.1")]


def test_an_index_edited_by_hand_is_seen_even_with_its_old_size_and_mtime(filled):
    _answers(filled)
    path = os.path.join(filled.root, "models", "a", "_index.json")
    before = os.stat(path)
    text = open(path).read()
    assert '"acc": 0.5' in text
    with open(path, "w") as f:
        f.write(text.replace('"acc": 0.5', '"acc": 0.9'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    assert [d["name"] for d in filled.search("metrics.acc > 0.85")] == ["a"]


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[1, 2]", json.dumps({"format": 99}).encode(),
                                    json.dumps({"format": 1, "models": {"a": "nonsense"}}).encode(), b"\xff" * 100])
def test_a_damaged_cache_is_ignored(filled, damage):
    truth = _answers(filled)
    files = _cache_files(filled)
    for path in files:
        with open(path, "wb") as f:
            f.write(damage)
    assert _answers(filled) == truth


def test_a_cache_that_is_gone_is_rebuilt(filled):
    truth = _answers(filled)
    import shutil

    shutil.rmtree(os.path.join(filled.root, "cache"))
    assert _answers(filled) == truth
    assert _cache_files(filled)
