"""history, search, list: the read-only questions asked of the index and the events."""

from __future__ import annotations

import pytest

from mreg.errors import UsageError


@pytest.fixture
def filled(reg, artifact):
    for i in range(3):
        reg.register("sentiment", artifact(f"w{i}".encode()), metrics=[f"accuracy=0.9{i}"])
    reg.register("segmenter", artifact(b"s"))
    reg.promote("sentiment@1.0.1", to="production")
    return reg


def test_list_summarises_every_model(filled):
    rows = {r["name"]: r for r in filled.list()}
    assert (rows["sentiment"]["versions"], rows["sentiment"]["latest"], rows["sentiment"]["production"]) == (
        3, "1.0.2", "1.0.1")
    assert (rows["segmenter"]["versions"], rows["segmenter"]["production"]) == (1, None)


def test_search_filters_sorts_and_limits(filled):
    found = filled.search("metrics.accuracy > 0.905")
    assert sorted(d["version"] for d in found) == ["1.0.1", "1.0.2"]
    ranked = filled.search("metrics.accuracy >= 0", sort="metrics.accuracy", descending=True, limit=2)
    assert [d["version"] for d in ranked] == ["1.0.2", "1.0.1"]
    assert [d["name"] for d in filled.search(stage="production")] == ["sentiment"]
    assert {d["name"] for d in filled.search(name_glob="seg*")} == {"segmenter"}
    with pytest.raises(UsageError):
        filled.search("metrics.accuracy >")


def test_history_is_newest_first_and_filters(filled):
    events = filled.history("sentiment")
    assert events[0]["action"] == "promote" and events[-1]["action"] == "register"
    assert {e["version"] for e in filled.history("sentiment@1.0.1")} == {"1.0.1"}
    assert len(filled.history(limit=2)) == 2
    assert {e["action"] for e in filled.history(actions=["register"])} == {"register"}
    assert len(filled.history()) == len(filled.history("sentiment")) + len(filled.history("segmenter"))
