"""Lineage: `register --from`, `mreg lineage` both ways with `--depth`, and the dataset-digest search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def objects(project: Path) -> set[str]:
    return {p.parent.name + p.name for p in (project / ".mreg" / "objects").glob("??/*")}


def put(project: Path, text: str) -> str:
    (project / "a.bin").write_text(text)
    return "a.bin"


@pytest.fixture
def family(mreg, project):
    """base 1.0.0-1.0.1 (1.0.1 in production, trained on data/train.csv); teacher from base@production;
    student from teacher and other (a merge); tiny from student."""
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("x,y\n1,2\n")
    mreg("register", "base", put(project, "b0"), "-q")
    mreg("register", "base", put(project, "b1"), "--dataset", "train=data/train.csv", "-q")
    mreg("promote", "base@1.0.1", "--to", "production", "-q")
    mreg("register", "teacher", put(project, "t"), "--from", "base@production", "--dataset",
         "train=data/train.csv", "--dataset", "eval=s3://bucket/eval.csv", "-q")
    mreg("register", "other", put(project, "o"), "-q")
    mreg("register", "student", put(project, "s"), "--from", "teacher@latest", "--from", "other@1.0.0",
         "--from", "teacher@1.0.0", "-q")
    mreg("register", "tiny", put(project, "y"), "--from", "student", "-q")
    return mreg


def label(node: dict) -> str:
    return f"{node['name']}@{node['version']}"


def test_from_records_exact_versions_across_models_once_each(family):
    assert family("show", "teacher@1.0.0", "--json").json["derived_from"] == ["base@1.0.1"]
    # repeatable, any model, each resolved to its exact version, a repeat recorded once
    assert family("show", "student@1.0.0", "--json").json["derived_from"] == ["teacher@1.0.0", "other@1.0.0"]
    assert family("show", "tiny@1.0.0", "--json").json["derived_from"] == ["student@1.0.0"]
    assert family("show", "other@1.0.0", "--json").json["derived_from"] == []
    assert "derived_from: teacher@1.0.0, other@1.0.0" in family("show", "student@1.0.0").out.splitlines()
    # A later production version does not change what was recorded.
    family("register", "base", "data/train.csv", "--stage", "production", "-q")
    assert family("show", "teacher@1.0.0", "--json").json["derived_from"] == ["base@1.0.1"]
    family("verify", "--rebuild-index")


@pytest.mark.parametrize("ref, code, message", [
    ("base@9.9.9", 1, "--from base@9.9.9: base has no version 9.9.9"),
    ("nosuch@1.0.0", 1, "--from nosuch@1.0.0: no model named 'nosuch'"),
    ("base@staging", 1, "--from base@staging: base has no version in staging"),
    ("Base@1.0.0", 2, "--from Base@1.0.0: invalid model name 'Base'"),
    ("base@", 2, "--from base@: invalid reference"),
])
def test_a_missing_or_bad_from_registers_nothing(family, project, ref, code, message):
    before = objects(project)
    history = family("history", "--json").json
    r = family("register", "new", put(project, "fresh bytes"), "--from", "other@1.0.0", "--from", ref, expect=code)
    assert r.err.startswith(f"mreg: error: {message}"), r.err
    assert objects(project) == before
    assert family("history", "--json").json == history
    family("show", "new", expect=1)


def test_a_removed_version_cannot_be_named_and_shows_as_removed_in_a_chain(family, project):
    family("rm", "base@1.0.0", "-q")
    r = family("register", "new", put(project, "n"), "--from", "base@1.0.0", expect=1)
    assert r.err.startswith("mreg: error: --from base@1.0.0: base@1.0.0 was removed")
    family("rm", "teacher@1.0.0", "-q")  # its model's only version: the model is gone too
    tree = family("lineage", "tiny@1.0.0", "--json").json
    student = tree["ancestors"][0]
    assert [(label(n), n["removed"]) for n in student["ancestors"]] == [("teacher@1.0.0", True), ("other@1.0.0", False)]
    assert student["ancestors"][0] == {"name": "teacher", "version": "1.0.0", "removed": True}
    assert "    teacher@1.0.0  (removed)" in family("lineage", "tiny@1.0.0").out.splitlines()


def test_lineage_both_ways_with_datasets_and_commits(family, project):
    doc = family("lineage", "teacher@1.0.0", "--json").json
    assert (label(doc), doc["stage"], doc["removed"]) == ("teacher@1.0.0", "development", False)
    assert doc["datasets"]["eval"] == {"uri": "s3://bucket/eval.csv"}
    digest = doc["datasets"]["train"]["digest"]
    assert digest.startswith("sha256:") and doc["datasets"]["train"]["uri"] == "data/train.csv"
    assert [label(n) for n in doc["ancestors"]] == ["base@1.0.1"]
    assert doc["ancestors"][0]["datasets"]["train"]["digest"] == digest
    assert doc["ancestors"][0]["ancestors"] == []
    assert [label(n) for n in doc["descendants"]] == ["student@1.0.0"]
    assert [label(n) for n in doc["descendants"][0]["descendants"]] == ["tiny@1.0.0"]
    assert doc["descendants"][0]["descendants"][0]["descendants"] == []
    for key in ("created_at", "created_by", "git_commit", "derived_from"):
        assert key in doc
    lines = family("lineage", "teacher@1.0.0").out.splitlines()
    assert lines[0] == f"teacher@1.0.0  development  data train={digest} (data/train.csv), eval=s3://bucket/eval.csv"
    assert lines[1:] == ["ancestors:", f"  base@1.0.1  production  data train={digest} (data/train.csv)",
                         "descendants:", "  student@1.0.0  development", "    tiny@1.0.0  development"]
    # A bare NAME is its latest version.
    assert label(family("lineage", "tiny", "--json").json) == "tiny@1.0.0"


def test_depth_limits_each_direction(family):
    doc = family("lineage", "student@1.0.0", "--depth", "1", "--json").json
    assert [label(n) for n in doc["ancestors"]] == ["teacher@1.0.0", "other@1.0.0"]
    teacher = doc["ancestors"][0]
    assert "ancestors" not in teacher and teacher["truncated"] is True  # base lies beyond
    assert "truncated" not in doc["ancestors"][1]  # other has no ancestors
    assert [label(n) for n in doc["descendants"]] == ["tiny@1.0.0"] and "truncated" not in doc["descendants"][0]
    full = family("lineage", "tiny@1.0.0", "--json").json
    chain = []
    node = full
    while node.get("ancestors"):
        node = node["ancestors"][0]
        chain.append(label(node))
    assert chain == ["student@1.0.0", "teacher@1.0.0", "base@1.0.1"]
    assert family("lineage", "tiny@1.0.0", "--depth", "2", "--json").json["ancestors"][0]["ancestors"][0].get(
        "truncated") is True
    lines = family("lineage", "tiny@1.0.0", "--depth", "1").out.splitlines()
    assert lines == ["tiny@1.0.0  development", "ancestors:", "  student@1.0.0  development",
                     "    … (more beyond --depth)"]


@pytest.mark.parametrize("args, code, message", [
    (["tiny@1.0.0", "--depth", "0"], 2, "--depth must be a whole number, 1 or more"),
    (["tiny@1.0.0", "--depth", "-1"], 2, "--depth must be a whole number, 1 or more"),
    (["tiny@1.0.0", "--depth", "two"], 2, "Invalid value for '--depth'"),
    (["tiny@9.0.0"], 1, "tiny has no version 9.0.0"),
    (["nosuch"], 1, "no model named 'nosuch'"),
])
def test_lineage_errors(family, args, code, message):
    r = family("lineage", *args, expect=code)
    assert r.err.startswith(f"mreg: error: {message}"), r.err
    assert r.out == ""


def test_git_commit_is_shown(mreg, project):
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=project, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    mreg("register", "a", put(project, "a"), "-q")
    mreg("register", "b", put(project, "b"), "--from", "a@1.0.0", "-q")
    doc = mreg("lineage", "b@1.0.0", "--json").json
    assert doc["git_commit"] == doc["ancestors"][0]["git_commit"] == commit
    assert f"  a@1.0.0  development  git {commit}" in mreg("lineage", "b@1.0.0").out.splitlines()


def test_dataset_digest_search_finds_every_version_trained_on_it(family, project):
    digest = family("show", "teacher@1.0.0", "--json").json["datasets"]["train"]["digest"]
    (project / "data" / "other.csv").write_text("different\n")
    family("register", "other", put(project, "o2"), "--dataset", "train=data/other.csv", "-q")
    found = family("search", f"datasets.train.digest = '{digest}'", "--json").json
    assert [label(d) for d in found] == ["base@1.0.1", "teacher@1.0.0"]
    assert [label(d) for d in family("search", "datasets.eval.uri like 's3://%'", "--json").json] == ["teacher@1.0.0"]
    quoted = family("search", f"datasets.`train`.digest = '{digest}' and datasets.train.size < 1KB", "--json").json
    assert [label(d) for d in quoted] == ["base@1.0.1", "teacher@1.0.0"]
    assert family("search", "datasets.train.digest = 'sha256:0000'", "--json").json == []
    r = family("search", "datasets.train.sha = 'x'", expect=2)
    assert "a dataset has no 'sha'" in r.err


def test_python_api(project):
    import mreg as api

    registry = api.open(str(project))
    (project / "a.bin").write_text("a")
    registry.register("a", str(project / "a.bin"))
    (project / "a.bin").write_text("b")
    doc = registry.register("b", str(project / "a.bin"), derived_from=["a@latest"])
    assert doc["derived_from"] == ["a@1.0.0"]
    tree = registry.lineage("a@1.0.0", depth=1)
    assert [n["name"] for n in tree["descendants"]] == ["b"] and tree["ancestors"] == []


def test_a_hand_edited_derived_from_is_damage(family, project):
    index = project / ".mreg" / "models" / "tiny" / "_index.json"
    data = json.loads(index.read_text())
    data["versions"]["1.0.0"]["derived_from"] = ["../../etc@1.0.0"]
    index.write_text(json.dumps(data))
    r = family("show", "tiny@1.0.0", expect=3)
    assert "derived_from" in r.err
