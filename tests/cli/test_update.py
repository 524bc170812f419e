"""`mreg update`: metadata changes merge, are recorded old → new, and never touch the artifact."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest


@pytest.fixture
def version(mreg, project) -> dict:
    (project / "model.bin").write_bytes(b"weights" * 1000)
    return mreg("register", "m", "model.bin", "-m", "acc=0.9", "-m", "f1=0.8", "-p", "lr=0.001", "-p", "opt=adam",
                "-t", "team=nlp", "-t", "draft=yes", "--description", "first try", "--json").json


def last_event(mreg) -> dict:
    return mreg("history", "m", "-n", "1", "--json").json[0]


def test_update_merges_and_records_old_and_new(mreg, project, version):
    r = mreg("update", "m@1.0.0", "-m", "acc=0.93", "-m", "recall=0.7", "-p", "opt=sgd", "-t", "reviewed=ok",
             "--description", "second look", "--reason", "re-evaluated", "--json")
    doc = r.json
    assert doc["metrics"] == {"acc": 0.93, "f1": 0.8, "recall": 0.7}
    assert doc["params"] == {"lr": 0.001, "opt": "sgd"}
    assert doc["tags"] == {"team": "nlp", "draft": "yes", "reviewed": "ok"}
    assert doc["description"] == "second look"
    for key in ("digest", "size", "kind", "files", "created_at", "created_by", "stage"):
        assert doc[key] == version[key], key
    event = last_event(mreg)
    assert (event["action"], event["version"], event["reason"]) == ("update", "1.0.0", "re-evaluated")
    assert event["details"]["changes"] == {
        "metrics.acc": [0.9, 0.93],
        "metrics.recall": [None, 0.7],
        "params.opt": ["adam", "sgd"],
        "tags.reviewed": [None, "ok"],
        "description": ["first try", "second look"],
    }
    assert mreg("show", "m@1.0.0", "--json").json == {**doc, "aliases": []}  # show adds the aliases


def test_unset(mreg, version):
    doc = mreg("update", "m@1.0.0", "--unset", "metrics.f1", "--unset", "params.lr", "--unset", "tags.draft",
               "--unset", "description", "--json").json
    assert doc["metrics"] == {"acc": 0.9}
    assert doc["params"] == {"opt": "adam"}
    assert doc["tags"] == {"team": "nlp"}
    assert doc["description"] == ""
    assert last_event(mreg)["details"]["changes"] == {
        "metrics.f1": [0.8, None],
        "params.lr": [0.001, None],
        "tags.draft": ["yes", None],
        "description": ["first try", None],
    }


def test_each_update_is_its_own_event(mreg, version):
    mreg("update", "m@1.0.0", "-m", "acc=0.91")
    mreg("update", "m@latest", "-m", "acc=0.92")
    mreg("update", "m@development", "-t", "team=cv")
    updates = [e for e in mreg("history", "m", "--json").json if e["action"] == "update"]
    assert [e["details"]["changes"] for e in updates] == [
        {"tags.team": ["nlp", "cv"]},
        {"metrics.acc": [0.91, 0.92]},
        {"metrics.acc": [0.9, 0.91]},
    ]


def test_an_update_that_changes_nothing_records_nothing(mreg, version):
    count = len(mreg("history", "m", "--json").json)
    mreg("update", "m@1.0.0", "-m", "acc=0.9", "-t", "team=nlp")
    assert len(mreg("history", "m", "--json").json) == count


def test_the_artifact_never_changes(mreg, project, version):
    mreg("update", "m@1.0.0", "-m", "acc=0.1", "--description", "x", "--unset", "tags.team")
    doc = mreg("show", "m@1.0.0", "--json").json
    assert doc["digest"] == version["digest"] == "sha256:" + hashlib.sha256(b"weights" * 1000).hexdigest()
    mreg("get", "m@1.0.0", "-o", str(project / "back.bin"))
    assert (project / "back.bin").read_bytes() == b"weights" * 1000
    for flag in ("--digest", "--artifact", "--version"):
        mreg("update", "m@1.0.0", flag, "x", expect=2)
    mreg("verify")


@pytest.mark.parametrize("args, code", [
    (("--unset", "tags.nope"), 2),
    (("--unset", "digest"), 2),
    (("--unset", "metrics"), 2),
    (("-m", "acc=high"), 2),
    (("-m", "acc"), 2),
    ((), 2),
])
def test_refused_updates_change_nothing(mreg, version, args, code):
    before = mreg("show", "m@1.0.0", "--json").json
    count = len(mreg("history", "m", "--json").json)
    # a valid change riding along with an invalid one is not applied either
    mreg("update", "m@1.0.0", "-m", "f1=0.99", *args, expect=code) if args else mreg("update", "m@1.0.0", expect=code)
    assert mreg("show", "m@1.0.0", "--json").json == before
    assert len(mreg("history", "m", "--json").json) == count


def test_update_needs_an_explicit_version(mreg, version):
    mreg("update", "m", "-m", "acc=1", expect=2)
    mreg("update", "m@2.0.0", "-m", "acc=1", expect=1)
    mreg("update", "nosuch@1.0.0", "-m", "acc=1", expect=1)


def test_quiet_and_plain_output(mreg, version):
    r = mreg("update", "m@1.0.0", "-m", "acc=0.5", "-q")
    assert r.out == "" and r.err == ""
    r = mreg("update", "m@1.0.0", "-m", "acc=0.6")
    assert r.out == "updated m@1.0.0 (development)\n"


def test_setting_and_unsetting_one_key_at_once_is_a_usage_error(mreg, version):
    before = mreg("show", "m@1.0.0", "--json").json
    events = len(mreg("history", "m", "--json").json)
    for args in (("-m", "a=1", "--unset", "metrics.a"), ("--framework", "torch", "--unset", "framework"),
                 ("-t", "k=v", "--unset", "tags.k")):
        r = mreg("update", "m@1.0.0", *args, expect=2)
        assert r.err.startswith("mreg: error:") and "both set and unset" in r.err
    assert mreg("show", "m@1.0.0", "--json").json == before
    assert len(mreg("history", "m", "--json").json) == events
