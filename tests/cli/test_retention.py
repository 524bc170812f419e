"""Retention: `[[retention]]` rules in config.toml, applied by `mreg gc`.

Each rule kind, each protected case, the dry run that changes no byte of
`.mreg/`, bad rules refused at load, and a property test over random
registries that no protected version is ever removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mregtest import Mreg


def add_rules(project: Path, text: str) -> None:
    config = project / ".mreg" / "config.toml"
    config.write_text(config.read_text() + "\n" + text)


def tree_digest(project: Path) -> str:
    """Every file under .mreg/ (path, type and bytes) in one digest."""
    root = project / ".mreg"
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files) + [d + "/" for d in dirs]:
            path = Path(folder) / name.rstrip("/")
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            if not name.endswith("/") and not path.is_symlink():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def register(mreg, project: Path, name: str, count: int, stage: str | None = None) -> None:
    """`count` versions of `name`, each with bytes of its own; with `stage`, each moved there."""
    for i in range(count):
        artifact = project / "a.bin"
        artifact.write_text(f"{name} {i} {os.urandom(4).hex()}")
        version = mreg("register", name, artifact, "--json").json["version"]
        if stage == "archived":
            mreg("transition", f"{name}@{version}", "archived", "-q")
        elif stage is not None:
            mreg("promote", f"{name}@{version}", "--to", stage, "-q")


def versions(mreg, name: str) -> dict[str, str]:
    return {d["version"]: d["stage"] for d in mreg("show", name, "--json").json}


def back_date(project: Path, name: str, version: str, when: str = "2020-01-01T00:00:00.000000Z") -> None:
    """Make `version` look as if it entered its stage at `when` (as an index written then would say)."""
    index = project / ".mreg" / "models" / name / "_index.json"
    data = json.loads(index.read_text())
    data["versions"][version]["stage_changed_at"] = when
    index.write_text(json.dumps(data))


def test_keep_last_keeps_the_highest_per_model_and_stage(mreg, project):
    register(mreg, project, "a", 4, "archived")  # a@1.0.0-1.0.3, archived
    register(mreg, project, "a", 1)              # a@1.0.4, the newest
    register(mreg, project, "b", 3, "archived")
    register(mreg, project, "b", 1)
    add_rules(project, '[[retention]]\nstages = ["archived"]\nkeep_last = 2\n')
    report = mreg("gc", "--json").json
    assert report["removed_versions"] == ["a@1.0.0", "a@1.0.1", "b@1.0.0"]
    assert sorted(versions(mreg, "a")) == ["1.0.2", "1.0.3", "1.0.4"]
    assert sorted(versions(mreg, "b")) == ["1.0.1", "1.0.2", "1.0.3"]
    removal = report["removals"][0]
    assert removal["rule"] == {"rule": 1, "stages": ["archived"], "keep_last": 2, "models": "*"}
    assert removal["stage"] == "archived" and "not among the last 2 in archived" in removal["reason"]
    # Each removal is a gc event recording its rule, and the history still rebuilds the index.
    event = mreg("history", "a@1.0.0", "--json").json[0]
    assert (event["action"], event["from"], event["to"]) == ("gc", "archived", None)
    assert "retention rule 1" in event["reason"]
    assert mreg("gc", "--json").json["removed_versions"] == []  # idempotent
    mreg("verify", "--rebuild-index")


def test_keep_last_counts_each_stage_apart(mreg, project):
    register(mreg, project, "m", 2, "testing")   # 1.0.0, 1.0.1
    register(mreg, project, "m", 2, "archived")  # 1.0.2, 1.0.3
    register(mreg, project, "m", 1)              # 1.0.4
    add_rules(project, '[[retention]]\nstages = ["testing", "archived"]\nkeep_last = 1\n')
    assert mreg("gc", "--json").json["removed_versions"] == ["m@1.0.0", "m@1.0.2"]


def test_older_than_is_time_in_the_stage(mreg, project):
    register(mreg, project, "m", 3, "archived")
    register(mreg, project, "m", 1)
    back_date(project, "m", "1.0.1")
    add_rules(project, '[[retention]]\nstages = ["archived"]\nolder_than = "30d"\n')
    report = mreg("gc", "--json").json
    assert report["removed_versions"] == ["m@1.0.1"]
    assert "in archived for longer than 30d" in report["removals"][0]["reason"]
    assert report["removals"][0]["rule"]["older_than"] == "30d"


def test_keep_last_and_older_than_together_both_must_hold(mreg, project):
    register(mreg, project, "m", 4, "archived")  # 1.0.0-1.0.3
    register(mreg, project, "m", 1)
    back_date(project, "m", "1.0.0")
    back_date(project, "m", "1.0.3")  # old, but among the last 2
    add_rules(project, '[[retention]]\nstages = ["archived"]\nkeep_last = 2\nolder_than = "30d"\n')
    assert mreg("gc", "--json").json["removed_versions"] == ["m@1.0.0"]


def test_models_glob_and_the_first_matching_rule_names_the_removal(mreg, project):
    register(mreg, project, "team/a", 2, "archived")
    register(mreg, project, "team/a", 1)
    register(mreg, project, "other", 2, "archived")
    register(mreg, project, "other", 1)
    add_rules(project, '[[retention]]\nstages = ["archived"]\nkeep_last = 0\nmodels = "team/*"\n\n'
                       '[[retention]]\nstages = ["archived", "development"]\nkeep_last = 1\n')
    report = mreg("gc", "--dry-run", "--json").json
    assert report["removed_versions"] == ["other@1.0.0", "team/a@1.0.0", "team/a@1.0.1"]
    rules = {f"{r['name']}@{r['version']}": r["rule"]["rule"] for r in report["removals"]}
    assert rules == {"other@1.0.0": 2, "team/a@1.0.0": 1, "team/a@1.0.1": 1}


def test_an_exclusive_stage_and_the_newest_version_are_never_removed(mreg, project):
    register(mreg, project, "m", 2)                 # 1.0.0, 1.0.1 in development
    mreg("promote", "m@1.0.0", "--to", "production", "-q")
    back_date(project, "m", "1.0.0")
    back_date(project, "m", "1.0.1")
    # Rules that match every version they can: in production and in development.
    add_rules(project, '[[retention]]\nstages = ["production", "development"]\nkeep_last = 0\nolder_than = "0s"\n')
    assert mreg("gc", "--json").json["removed_versions"] == []
    assert versions(mreg, "m") == {"1.0.0": "production", "1.0.1": "development"}
    register(mreg, project, "m", 1)  # 1.0.2 is now the newest: 1.0.1 may go, production still stays
    assert mreg("gc", "--json").json["removed_versions"] == ["m@1.0.1"]
    assert versions(mreg, "m") == {"1.0.0": "production", "1.0.2": "development"}


def test_a_held_version_is_never_removed(mreg, project):
    # holds.py says what aliases, traffic and pending approvals hold; gc asks it for every version a
    # rule matches: an alias on 1.0.0 keeps it, until the alias goes.
    register(mreg, project, "m", 2, "archived")
    register(mreg, project, "m", 1)
    add_rules(project, '[[retention]]\nstages = ["archived"]\nkeep_last = 0\n')
    mreg("alias", "m@1.0.0", "champion", "-q")
    assert mreg("gc", "--json").json["removed_versions"] == ["m@1.0.1"]
    mreg("alias", "m", "champion", "--delete", "-q")
    assert mreg("gc", "--json").json["removed_versions"] == ["m@1.0.0"]
    mreg("verify", "--rebuild-index")


def test_dry_run_lists_each_version_with_its_rule_and_changes_no_byte(mreg, project):
    register(mreg, project, "m", 3, "archived")
    register(mreg, project, "m", 1)
    add_rules(project, '[[retention]]\nstages = ["archived"]\nkeep_last = 1\n')
    mreg("list", "-q")  # the read cache exists, as it would in a used registry
    before = tree_digest(project)
    r = mreg("gc", "--dry-run")
    lines = r.out.splitlines()
    assert lines[:2] == [
        "would remove m@1.0.0: retention rule 1 (stages archived; keep_last 1): not among the last 1 in archived",
        "would remove m@1.0.1: retention rule 1 (stages archived; keep_last 1): not among the last 1 in archived",
    ]
    assert "would remove 2 versions" in lines[2]
    report = mreg("gc", "--dry-run", "--json", "--grace", "0s").json
    assert report["dry_run"] is True and report["removed_versions"] == ["m@1.0.0", "m@1.0.1"]
    assert report["objects"] == 2  # the bytes only those two versions referenced
    assert tree_digest(project) == before
    assert len(versions(mreg, "m")) == 4
    r = mreg("gc", "--grace", "0s")
    assert r.out.startswith("removed m@1.0.0: retention rule 1")
    assert len(versions(mreg, "m")) == 2


BAD_RULES = [
    ('[[retention]]\nstages = []\nkeep_last = 1\n', "retention[1].stages", "empty"),
    ('[[retention]]\nkeep_last = 1\n', "retention[1].stages", "missing"),
    ('[[retention]]\nstages = ["archived"]\nkeep_last = 1\n\n[[retention]]\nstages = ["old"]\nkeep_last = 1\n',
     "retention[2].stages", "unknown stage 'old'"),
    ('[[retention]]\nstages = "archived"\nkeep_last = 1\n', "retention[1].stages", "not a list"),
    ('[[retention]]\nstages = ["archived"]\nkeep_last = -1\n', "retention[1].keep_last", "-1"),
    ('[[retention]]\nstages = ["archived"]\nkeep_last = true\n', "retention[1].keep_last", "whole number"),
    ('[[retention]]\nstages = ["archived"]\nkeep_last = 1.5\n', "retention[1].keep_last", "whole number"),
    ('[[retention]]\nstages = ["archived"]\nolder_than = "a month"\n', "retention[1].older_than", "duration"),
    ('[[retention]]\nstages = ["archived"]\nolder_than = 30\n', "retention[1].older_than", "duration"),
    ('[[retention]]\nstages = ["archived"]\nkeep_last = 1\nkeep = 2\n', "retention[1].keep", "unknown key"),
    ('[[retention]]\nstages = ["archived"]\n', "retention[1]", "neither keep_last nor older_than"),
    ('[[retention]]\nstages = ["archived"]\nkeep_last = 1\nmodels = ""\n', "retention[1].models", "glob"),
    ('[retention]\nstages = ["archived"]\nkeep_last = 1\n', "retention", "[[retention]]"),
]


@pytest.mark.parametrize("text, key, problem", BAD_RULES)
def test_a_bad_rule_is_refused_at_load_and_nothing_changes(mreg, project, text, key, problem):
    register(mreg, project, "m", 2, "archived")
    register(mreg, project, "m", 1)
    add_rules(project, text)
    before = tree_digest(project)
    for args in (["gc"], ["gc", "--dry-run", "--json"], ["register", "m", "a.bin"]):
        r = mreg(*args, expect=3)
        first = r.err.splitlines()[0]
        assert first.startswith(f"mreg: error: invalid config.toml: {key}: "), first
        assert problem in first
    assert tree_digest(project) == before


# --- property: over random registries, no protected version is ever removed ---------------

STAGES = ("development", "testing", "staging", "production", "deprecated", "archived")
EXAMPLES = 60 if os.environ.get("MREG_FULL") == "1" else 12


def _move(registry, ref: str, stage: str) -> None:
    """Take a new version (in development) to `stage` by allowed moves."""
    if stage == "testing":
        registry.transition(ref, "testing")
    elif stage == "staging":
        registry.promote(ref, "staging")
    elif stage == "production":
        registry.promote(ref, "production")
    elif stage == "deprecated":
        registry.promote(ref, "production")
        registry.transition(ref, "deprecated")
    elif stage == "archived":
        registry.transition(ref, "archived")


rule_tables = st.fixed_dictionaries(
    {"stages": st.lists(st.sampled_from(STAGES), min_size=1, max_size=3, unique=True)},
    optional={"keep_last": st.integers(0, 3), "older_than": st.sampled_from(["0s", "1h", "1000d"]),
              "models": st.sampled_from(["*", "a", "b*", "team/*"])},
).filter(lambda rule: "keep_last" in rule or "older_than" in rule)
registries = st.fixed_dictionaries({
    "models": st.dictionaries(st.sampled_from(["a", "b", "bb", "team/c"]),
                              st.lists(st.sampled_from(STAGES), min_size=1, max_size=5), min_size=1, max_size=3),
    "rules": st.lists(rule_tables, min_size=1, max_size=3),
    "back_dated": st.lists(st.booleans(), min_size=15, max_size=15),
})


@settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("MREG_FULL") != "1", database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=registries)
def test_no_protected_version_is_ever_removed(spec):
    import tomli_w

    import mreg as api
    from mreg.core.holds import holds
    from mreg.core.semver import Version

    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        registry = api.init(folder)
        flags = iter(spec["back_dated"])
        for name, stages in spec["models"].items():
            for i, stage in enumerate(stages):
                (project / "a.bin").write_text(f"{name} {i}")
                version = registry.register(name, str(project / "a.bin"))["version"]
                _move(registry, f"{name}@{version}", stage)
        for name in spec["models"]:
            index = project / ".mreg" / "models" / name / "_index.json"
            data = json.loads(index.read_text())
            for record in data["versions"].values():
                if next(flags, False):
                    record["stage_changed_at"] = "2020-01-01T00:00:00.000000Z"
            index.write_text(json.dumps(data))
        add_rules(project, tomli_w.dumps({"retention": spec["rules"]}))

        before = {name: registry.model(name) for name in spec["models"]}
        protected = set()
        for name, model in before.items():
            newest = max(model["versions"], key=Version.parse)
            for version, record in model["versions"].items():
                if record["stage"] == "production" or version == newest or holds(model, version):
                    protected.add(f"{name}@{version}")
        digest = tree_digest(project)
        dry = api.open(folder).gc(dry_run=True)
        assert tree_digest(project) == digest
        report = api.open(folder).gc()
        assert report["removed_versions"] == dry["removed_versions"]
        removed = set(report["removed_versions"])
        assert not removed & protected, (removed & protected, spec)
        after = {f"{d['name']}@{d['version']}" for d in api.open(folder).all_documents()}
        assert protected <= after
        everything = {f"{n}@{v}" for n, m in before.items() for v in m["versions"]}
        assert after == everything - removed
        # Every removal names a rule that covers its model and stage.
        for removal in report["removals"]:
            rule = removal["rule"]
            assert removal["stage"] in rule["stages"]
            assert rule == {**spec["rules"][rule["rule"] - 1], "rule": rule["rule"],
                            "models": spec["rules"][rule["rule"] - 1].get("models", "*")}
        assert api.open(folder).verify(rebuild_index=False)["ok"]


def test_a_rule_that_matches_everything_spares_only_the_protected(mreg: Mreg, project):
    # The precision side of the property: what is not protected and matches does go.
    register(mreg, project, "m", 2, "staging")
    register(mreg, project, "m", 1, "production")
    register(mreg, project, "m", 2, "archived")
    register(mreg, project, "m", 1)
    add_rules(project, '[[retention]]\nstages = ["development", "testing", "staging", "production", '
                       '"deprecated", "archived"]\nkeep_last = 0\n')
    mreg("gc")
    assert versions(mreg, "m") == {"1.0.2": "production", "1.0.5": "development"}
    mreg("verify", "--rebuild-index")


def test_the_readme_rules_do_what_the_readme_says(mreg, project):
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```toml\n(.*?)^```", readme, re.S | re.M) if "[[retention]]" in b]
    assert len(blocks) == 1
    add_rules(project, blocks[0])
    for i in range(6):  # m@1.0.0-1.0.4 end in deprecated, 1.0.5 in production
        mreg("register", "m", put_bytes(project, f"m{i}"), "--stage", "production", "-q")
    for version in ("1.0.1", "1.0.2", "1.0.3", "1.0.4"):
        back_date(project, "m", version)  # 1.0.0 entered deprecated just now
    register(mreg, project, "experiments/x", 2)
    register(mreg, project, "other", 2)
    for name in ("experiments/x", "other"):
        for version in ("1.0.0", "1.0.1"):
            back_date(project, name, version)
    report = mreg("gc", "--dry-run", "--json").json
    # m: the 3 highest deprecated stay, and 1.0.0 (too recent); experiments/x@1.0.1 is the newest;
    # other is not experiments/*.
    assert report["removed_versions"] == ["experiments/x@1.0.0", "m@1.0.1"]
    assert [r["rule"]["rule"] for r in report["removals"]] == [2, 1]


def put_bytes(project: Path, text: str) -> str:
    (project / "a.bin").write_text(text)
    return "a.bin"
