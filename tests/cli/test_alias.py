"""`mreg alias`: named pointers to versions, `NAME@ALIAS` wherever a reference is
taken, and the versions they hold against `rm` and gc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def three(mreg, project) -> Path:
    """m 1.0.0, 1.0.1, 1.0.2 (different bytes, accuracy 0.90-0.92)."""
    for i in range(3):
        (project / f"v{i}.bin").write_text(f"version {i}")
        mreg("register", "m", f"v{i}.bin", "-q", "-m", f"accuracy=0.9{i}")
    return project


def _events(mreg, action: str = "alias") -> list[dict]:
    return mreg("history", "m", "--action", action, "--json").json


def _index(project: Path, name: str = "m") -> dict:
    return json.loads((project / ".mreg" / "models" / name / "_index.json").read_text())


def _add_stage(project: Path, stage: str) -> None:
    """Add `stage` to the registry's lifecycle (reachable from nowhere, leading nowhere)."""
    import tomllib

    import tomli_w

    config = project / ".mreg" / "config.toml"
    document = tomllib.loads(config.read_text())
    document["lifecycle"]["stages"].append(stage)
    document["lifecycle"]["transitions"][stage] = []
    config.write_text(tomli_w.dumps(document))


def test_set_move_again_and_delete_print_what_moved_and_record_events(mreg, project, three):
    assert mreg("alias", "m@1.0.0", "champion", "--reason", "first").out == "set m@champion to 1.0.0\n"
    assert mreg("alias", "m@latest", "champion", "-r", "won the A/B test").out == \
        "moved m@champion from 1.0.0 to 1.0.2\n"
    # Pointing it where it already points changes nothing and records nothing.
    assert mreg("alias", "m@1.0.2", "champion").out == "m@champion already points at 1.0.2\n"
    assert _index(project)["aliases"] == {"champion": "1.0.2"}
    events = _events(mreg)
    assert [(e["version"], e["from"], e["to"], e["reason"], e["details"]) for e in events] == [
        ("1.0.2", None, None, "won the A/B test", {"alias": "champion", "before": "1.0.0", "after": "1.0.2"}),
        ("1.0.0", None, None, "first", {"alias": "champion", "before": None, "after": "1.0.0"}),
    ]
    assert mreg("alias", "m", "champion", "--delete", "--reason", "retired").out == "deleted m@champion (was 1.0.2)\n"
    # Absent when empty: the index of a model without aliases is as it always was.
    assert "aliases" not in _index(project)
    last = _events(mreg)[0]
    assert (last["version"], last["reason"], last["details"]) == \
        ("1.0.2", "retired", {"alias": "champion", "before": "1.0.2", "after": None})
    mreg("verify", "--rebuild-index")


def test_list_json_quiet(mreg, three):
    assert mreg("alias", "m").out == ""  # piped: no rows, no header
    assert mreg("alias", "m", "--json").json == []
    mreg("alias", "m@1.0.2", "challenger", "-q")
    mreg("alias", "m@1.0.1", "champion", "-q")
    assert mreg("alias", "m").out == "challenger\t1.0.2\nchampion\t1.0.1\n"
    assert mreg("alias", "m", "--json").json == [{"alias": "challenger", "version": "1.0.2"},
                                                 {"alias": "champion", "version": "1.0.1"}]
    r = mreg("alias", "m@champion", "best", "--json")
    assert r.json == {"name": "m", "alias": "best", "version": "1.0.1", "previous": None}
    assert mreg("alias", "m@1.0.0", "best", "--json").json["previous"] == "1.0.1"
    assert mreg("alias", "m", "best", "--delete", "--json").json == \
        {"name": "m", "alias": "best", "version": None, "previous": "1.0.0"}
    quiet = mreg("alias", "m@1.0.0", "best", "-q", "--lock-timeout", "5")
    assert quiet.out == "" and quiet.err == ""


def test_repo_option_from_elsewhere(mreg, project, three, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mreg("alias", "m@1.0.1", "champion", "--repo", str(project), cwd=elsewhere)
    assert mreg("alias", "m", "--repo", str(project), cwd=elsewhere).out == "champion\t1.0.1\n"
    assert mreg("--repo", str(project), "show", "m@champion", "--json", cwd=elsewhere).json["version"] == "1.0.1"


@pytest.mark.parametrize("alias, rule", [
    ("production", "stage"), ("archived", "stage"), ("development", "stage"),
    ("latest", "'latest'"),
    ("1.2.0", "version"), ("v1.2.0", "version"), ("1.2.0-rc.1", "version"),
    ("Champion", "must start with a-z"), ("9lives", "must start with a-z"), ("_x", "must start with a-z"),
    ("a.b", "must start with a-z"), ("a b", "must start with a-z"), ("a@b", "must start with a-z"),
    ("", "empty"), ("a" * 65, "longer than 64"),
])
def test_an_alias_name_that_breaks_a_rule_is_a_usage_error_naming_it(mreg, project, three, alias, rule):
    before = (project / ".mreg" / "models" / "m" / "_index.json").read_bytes()
    r = mreg("alias", "m@1.0.0", alias, expect=2)
    assert r.err.startswith("mreg: error: invalid alias") and rule in r.err, r.err
    assert (project / ".mreg" / "models" / "m" / "_index.json").read_bytes() == before


def test_a_stage_of_this_registrys_lifecycle_cannot_be_an_alias(mreg, project, three):
    _add_stage(project, "canary")
    assert "canary" in mreg("alias", "m@1.0.0", "canary", expect=2).err


def test_refusals_and_not_found(mreg, project, three):
    r = mreg("alias", "m", "champion", expect=2)  # a bare NAME with an ALIAS and no --delete
    assert "names a model, not a version" in r.err and "--delete" in r.err
    assert "--delete needs the ALIAS" in mreg("alias", "m", "--delete", expect=2).err
    assert "give the ALIAS" in mreg("alias", "m@1.0.0", expect=2).err
    assert "listing the aliases changes nothing" in mreg("alias", "m", "--reason", "why", expect=2).err
    assert "takes a model name" in mreg("alias", "m@1.0.0", "champion", "--delete", expect=2).err
    r = mreg("alias", "m", "champion", "--delete", expect=1)
    assert "m has no alias 'champion'" in r.err
    assert "invalid alias" in mreg("alias", "m", "Champion", "--delete", expect=2).err
    assert "no version 9.9.9" in mreg("alias", "m@9.9.9", "champion", expect=1).err
    assert "no model named 'nope'" in mreg("alias", "nope@1.0.0", "champion", expect=1).err
    assert "no model named 'nope'" in mreg("alias", "nope", expect=1).err
    assert "no model named 'nope'" in mreg("alias", "nope", "champion", "--delete", expect=1).err
    assert "invalid model name" in mreg("alias", "Bad@1.0.0", "champion", expect=2).err
    assert mreg("alias", "m@1.0.0", "champion", "--reason", "bad\udcff", expect=2).code == 2
    assert _events(mreg) == []


def test_name_at_alias_resolves_in_every_command(mreg, project, three):
    mreg("alias", "m@1.0.1", "champion", "-q")
    mreg("alias", "m@1.0.2", "challenger", "-q")
    for typer_only in ({}, {"_MREG_TYPER_ONLY": "1"}):  # the fast path and typer agree
        assert mreg("show", "m@champion", "--json", env=typer_only).json["version"] == "1.0.1"
        out = project / f"got{len(typer_only)}"
        assert mreg("get", "m@champion", "-o", out, env=typer_only).out.strip() == str(out)
        assert out.read_text() == "version 1"
        diff = mreg("diff", "m@champion", "m@challenger", "--json", env=typer_only).json
        assert (diff["left"]["version"], diff["right"]["version"]) == ("1.0.1", "1.0.2")
    assert mreg("history", "m@champion", "--json").json[0]["version"] == "1.0.1"
    mreg("verify", "m@champion")
    assert mreg("update", "m@champion", "-t", "role=champion", "--json").json["version"] == "1.0.1"
    assert mreg("transition", "m@champion", "testing", "--json").json["version"] == "1.0.1"
    assert mreg("promote", "m@challenger", "--to", "staging", "--json").json["version"] == "1.0.2"
    assert mreg("alias", "m@challenger", "shadow", "--json").json["version"] == "1.0.2"
    # An alias always means the same version, whatever stage it is in: stages move, aliases do not.
    assert mreg("show", "m@champion", "--json").json["tags"] == {"role": "champion"}
    mreg("rm", "m@shadow", "--force", "-q")
    assert mreg("alias", "m", "--json").json == [{"alias": "champion", "version": "1.0.1"}]


def test_a_reference_to_an_alias_not_set_is_not_found(mreg, three):
    assert "mreg alias m@VERSION ALIAS" in mreg("show", "m@nosuch", expect=1, env={"_MREG_TYPER_ONLY": "1"}).err
    mreg("alias", "m@1.0.1", "champion", "-q")
    r = mreg("show", "m@challenger", expect=1)
    assert "m has no alias or stage 'challenger'" in r.err and "its aliases: champion" in r.err
    # Neither a version, a stage, latest nor an alias's spelling: still a usage error.
    assert "is not a version, 'latest', a stage or an alias" in mreg("show", "m@Bad!", expect=2).err


def test_show_lists_each_versions_aliases(mreg, three):
    assert mreg("show", "m@1.0.0", "--json").json["aliases"] == []
    assert all(d["aliases"] == [] for d in mreg("show", "m", "--json").json)
    assert "aliases" not in mreg("show", "m@1.0.0").out
    # With no aliases, `show NAME` keeps its columns.
    assert [len(line.split("\t")) for line in mreg("show", "m").out.splitlines()] == [7, 7, 7]
    mreg("alias", "m@1.0.2", "champion", "-q")
    mreg("alias", "m@1.0.2", "best", "-q")
    assert mreg("show", "m@champion", "--json").json["aliases"] == ["best", "champion"]
    assert [d["aliases"] for d in mreg("show", "m", "--json").json] == [[], [], ["best", "champion"]]
    assert "aliases: best, champion\n" in mreg("show", "m@1.0.2").out
    rows = [line.split("\t") for line in mreg("show", "m").out.splitlines()]
    assert [(row[0], row[-1]) for row in rows] == [("1.0.2", "best,champion"), ("1.0.1", ""), ("1.0.0", "")]


def test_rm_refuses_a_version_an_alias_holds_and_force_drops_the_aliases_first(mreg, project, three):
    mreg("alias", "m@1.0.1", "champion", "-q")
    mreg("alias", "m@1.0.1", "best", "-q")
    r = mreg("rm", "m@champion", expect=1)
    assert "m@1.0.1 is held: alias best, alias champion" in r.err and "--force" in r.err
    mreg("rm", "m", "--all", "--yes", expect=1)
    assert len(mreg("show", "m", "--json").json) == 3 and len(_events(mreg)) == 2
    mreg("rm", "m@1.0.0", "-q")  # nothing holds it
    assert mreg("rm", "m@1.0.1", "--force", "--reason", "leaked", "--json").json == {"removed_versions": ["m@1.0.1"]}
    events = mreg("history", "m", "-n", "3", "--json").json
    assert [(e["action"], e["version"], e["reason"], e["details"].get("alias")) for e in events] == [
        ("rm", "1.0.1", "leaked", None),
        ("alias", "1.0.1", "removed with the version", "champion"),
        ("alias", "1.0.1", "removed with the version", "best"),
    ]
    assert "aliases" not in _index(project)
    mreg("verify", "--rebuild-index")


def test_rm_all_force_drops_every_alias(mreg, project, three):
    mreg("alias", "m@1.0.0", "a", "-q")
    mreg("alias", "m@1.0.2", "b", "-q")
    mreg("rm", "m", "--all", "--yes", "--force", "-q")
    assert [e["details"]["alias"] for e in _events(mreg)[:2]] == ["b", "a"]
    mreg("verify", "--rebuild-index")


def test_gc_keeps_an_archived_version_an_alias_holds_and_goes_on(mreg, project, three):
    for version in ("1.0.0", "1.0.1"):
        mreg("transition", f"m@{version}", "archived", "-q")
    mreg("alias", "m@1.0.1", "rollback-target", "-q")
    dry = mreg("gc", "--archived-older-than", "0s", "--grace", "0s", "--dry-run", "--json").json
    assert dry["removed_versions"] == ["m@1.0.0"]
    assert dry["held_versions"] == [{"name": "m", "version": "1.0.1", "holds": ["alias rollback-target"]}]
    r = mreg("gc", "--archived-older-than", "0s", "--grace", "0s")
    assert "removed m@1.0.0: archived for longer than 0s\n" in r.out and "kept 1 held version" in r.out
    assert "kept m@1.0.1, archived but held: alias rollback-target" in r.err
    assert [d["version"] for d in mreg("show", "m", "--json").json] == ["1.0.1", "1.0.2"]
    assert mreg("gc", "--json").json["held_versions"] == []  # no archived cleanup asked: nothing to hold
    mreg("get", "m@rollback-target", "-o", project / "kept")  # its bytes stayed too
    mreg("verify", "--rebuild-index")


def test_verify_names_an_alias_to_a_missing_version_or_shadowed_by_a_stage(mreg, project, three):
    mreg("alias", "m@1.0.1", "canary", "-q")
    index_path = project / ".mreg" / "models" / "m" / "_index.json"
    good = index_path.read_text()
    index_path.write_text(good.replace('"canary": "1.0.1"', '"canary": "1.0.9"'))
    r = mreg("verify", expect=3)
    assert "aliases.canary" in r.out and "not a version of this model" in r.out
    assert "aliases.canary" in mreg("show", "m@1.0.0", expect=3).err
    index_path.write_text(good)
    # A stage added to the lifecycle later takes the name: a reference now reads the stage.
    _add_stage(project, "canary")
    r = mreg("verify", expect=3)
    assert "alias 'canary' has the name of a stage" in r.out
    mreg("alias", "m", "canary", "--delete", "-q")  # the way out
    mreg("verify")


def test_an_alias_edited_into_the_index_differs_from_its_history(mreg, project, three):
    index_path = project / ".mreg" / "models" / "m" / "_index.json"
    index = json.loads(index_path.read_text())
    index["aliases"] = {"champion": "1.0.0"}
    index_path.write_text(json.dumps(index))
    mreg("verify")  # a sound document...
    r = mreg("verify", "--rebuild-index", expect=3)
    assert "aliases: in the index, not in the history" in r.out  # ...that no event made


def test_concurrent_moves_lose_nothing(mreg, project, three):
    # Six processes point one alias at different versions at once: each move is
    # made under the lock, recorded in order, and the index says where the last one left it.
    import subprocess
    import sys

    writers = [subprocess.Popen([sys.executable, "-m", "mreg", "alias", f"m@1.0.{i % 3}", "champion", "--json"],
                                cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(6)]
    told = [json.loads(w.communicate(timeout=120)[0]) for w in writers]
    assert all(w.returncode == 0 for w in writers)
    events = list(reversed(_events(mreg)))
    # Every move a writer was told of is in the history, each starting where the one before left it.
    moved = [t for t in told if t["previous"] != t["version"]]
    assert len(events) == len(moved)
    assert all(a["details"]["after"] == b["details"]["before"] for a, b in zip(events, events[1:]))
    assert _index(project)["aliases"] == {"champion": events[-1]["details"]["after"]}
    mreg("verify", "--rebuild-index")
