"""Aliases in-process: the Python API, `holds`, the index's check and replay of `alias` events."""

from __future__ import annotations

import json

import pytest

from mreg.core.holds import aliases_of, holds
from mreg.core.names import alias_fault, validate_alias
from mreg.core.replay import NotReplayable, rebuild
from mreg.core.schema import aliases_fault, model_fault
from mreg.errors import ExitCode, MregError, NotFoundError, RefusedError, UsageError


@pytest.fixture
def two(reg, artifact):
    reg.register("m", artifact(b"one"))
    reg.register("m", artifact(b"two"))
    return reg


def test_the_api_sets_moves_lists_and_deletes_returning_plain_data(two):
    assert two.aliases("m") == {}
    assert two.alias("m@1.0.0", "champion", reason="first") == \
        {"name": "m", "alias": "champion", "version": "1.0.0", "previous": None}
    assert two.alias("m@latest", "champion") == {"name": "m", "alias": "champion", "version": "1.0.1",
                                                  "previous": "1.0.0"}
    assert two.alias("m@champion", "champion")["previous"] == "1.0.1"  # nothing moved
    two.alias("m@1.0.0", "baseline")
    assert two.aliases("m") == {"baseline": "1.0.0", "champion": "1.0.1"}
    assert json.loads(json.dumps(two.aliases("m"))) == two.aliases("m")
    assert two.show("m@champion")["version"] == "1.0.1"
    assert two.show("m@1.0.1")["aliases"] == ["champion"]
    assert [d["aliases"] for d in two.versions("m")] == [["baseline"], ["champion"]]
    assert two.unalias("m", "champion", reason="retired") == {"name": "m", "alias": "champion", "version": None,
                                                              "previous": "1.0.1"}
    assert [(e["action"], e["details"]) for e in two.history("m", actions=["alias"])] == [
        ("alias", {"alias": "champion", "before": "1.0.1", "after": None}),
        ("alias", {"alias": "baseline", "before": None, "after": "1.0.0"}),
        ("alias", {"alias": "champion", "before": "1.0.0", "after": "1.0.1"}),
        ("alias", {"alias": "champion", "before": None, "after": "1.0.0"}),
    ]
    assert two.verify(rebuild_index=True)["ok"]


def test_the_api_refuses_bad_input_and_changes_nothing(two):
    with pytest.raises(UsageError, match="names a model") as caught:
        two.alias("m", "champion")
    assert "unalias(NAME, ALIAS)" in caught.value.hint  # the Python caller hears of unalias(), not --delete
    with pytest.raises(UsageError, match="stage"):
        two.alias("m@1.0.0", "staging")
    with pytest.raises(NotFoundError, match="m has no alias 'champion'"):
        two.unalias("m", "champion")
    with pytest.raises(UsageError, match="takes a model name"):
        two.unalias("m@1.0.0", "champion")
    with pytest.raises(NotFoundError, match="no model"):
        two.aliases("nope")
    assert two.history("m", actions=["alias"]) == []


@pytest.mark.parametrize("alias, broken", [
    ("champion", None), ("a", None), ("shadow_2-b", None),
    ("production", "stage"), ("latest", "latest"), ("1.0.0", "version"), ("v2.0.0", "version"),
    ("Champion", "a-z"), ("2x", "a-z"), ("", "empty"), ("x" * 65, "longer"), ("é", "a-z"),
])
def test_alias_rules(alias, broken):
    fault = alias_fault(alias, ("development", "production"))
    assert (fault is None) if broken is None else (broken in fault)
    if broken is not None:
        with pytest.raises(UsageError) as caught:
            validate_alias(alias, ("development", "production"))
        assert caught.value.exit_code == ExitCode.USAGE


def test_holds_names_each_alias_pointing_at_the_version():
    model = {"versions": {"1.0.0": {}, "1.0.1": {}}, "aliases": {"champion": "1.0.1", "best": "1.0.1", "old": "1.0.0"}}
    assert holds(model, "1.0.1") == ["alias best", "alias champion"]
    assert holds(model, "1.0.0") == ["alias old"]
    assert holds({"versions": {"1.0.0": {}}}, "1.0.0") == []  # an index without aliases holds nothing
    assert aliases_of(model, "2.0.0") == []


def test_remove_refuses_a_held_version_and_force_drops_its_aliases(two):
    two.alias("m@1.0.1", "champion")
    with pytest.raises(RefusedError, match="is held: alias champion"):
        two.remove("m@1.0.1")
    with pytest.raises(RefusedError, match="is held"):
        two.remove("m", all_versions=True, dry_run=True)
    assert two.remove("m@champion", force=True) == ["m@1.0.1"]
    assert two.aliases("m") == {}
    assert two.history("m", limit=2)[1]["reason"] == "removed with the version"
    assert two.verify(rebuild_index=True)["ok"]


def test_gc_keeps_a_held_archived_version(two):
    for version in ("1.0.0", "1.0.1"):
        two.transition(f"m@{version}", "archived")
    two.alias("m@1.0.0", "baseline")
    report = two.gc(archived_older_than="0s")
    assert report["removed_versions"] == ["m@1.0.1"]
    assert report["held_versions"] == [{"name": "m", "version": "1.0.0", "holds": ["alias baseline"]}]
    assert [d["version"] for d in two.versions("m")] == ["1.0.0"]


def _model(**extra) -> dict:
    record = {"version": "1.0.0", "stage": "development", "digest": "sha256:" + "0" * 64, "kind": "file",
              "size": 1, "files": 1, "created_at": "2026-01-31T12:00:00.000000Z", "created_by": "a"}
    return {"format": 1, "name": "m", "versions": {"1.0.0": record}, "released": [], "removed": [],
            "history": {"events": 1, "bytes": 100, "head": "sha256:" + "1" * 64}, **extra}


@pytest.mark.parametrize("aliases, fault", [
    ({"champion": "1.0.0"}, None),
    ({}, "absent when there are none"),
    ([], "absent when there are none"),
    ({"champion": "2.0.0"}, "aliases.champion: '2.0.0' is not a version of this model"),
    ({"champion": 1}, "aliases.champion"),
    ({"Champion": "1.0.0"}, "aliases.Champion: not an alias name"),
    ({"latest": "1.0.0"}, "aliases.latest: not an alias name"),
    ({"1.0.0": "1.0.0"}, "not an alias name"),
])
def test_the_index_check_of_aliases(aliases, fault):
    found = model_fault(_model(aliases=aliases))
    assert (found is None) if fault is None else (fault in found), found
    assert model_fault(_model()) is None  # absent: an index of an earlier mreg
    if fault is None:
        assert aliases_fault(aliases, {"1.0.0": {}}) is None


def _event(seq: int, alias: str, before, after) -> dict:
    return {"seq": seq, "action": "alias", "version": after or before, "details":
            {"alias": alias, "before": before, "after": after}, "hash": "sha256:" + "2" * 64}


def test_replay_applies_alias_events_and_refuses_one_that_does_not_follow():
    register = {"seq": 1, "action": "register", "version": "1.0.0", "details": {"record": _model()["versions"]["1.0.0"]},
                "hash": "sha256:" + "3" * 64}
    rebuilt = rebuild("m", [register, _event(2, "champion", None, "1.0.0")])
    assert rebuilt["aliases"] == {"champion": "1.0.0"}
    rebuilt = rebuild("m", [register, _event(2, "champion", None, "1.0.0"), _event(3, "champion", "1.0.0", None)])
    assert "aliases" not in rebuilt
    for bad in (_event(2, "champion", "1.0.0", None),       # deletes an alias that is not there
                _event(2, "champion", None, "9.9.9"),       # points at no version
                {**_event(2, "champion", None, "1.0.0"), "details": {}}):
        with pytest.raises(NotReplayable, match="event 2 \\(alias\\)"):
            rebuild("m", [register, bad])


def test_a_refused_alias_is_an_mreg_error_with_its_exit_code(two):
    with pytest.raises(MregError) as caught:
        two.alias("m@9.9.9", "champion")
    assert caught.value.exit_code == ExitCode.REFUSED
