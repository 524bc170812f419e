"""`mreg show`, `mreg list` / `ls`: the JSON documents of docs/json.md and plain lines when piped."""

from __future__ import annotations

import hashlib
import re

VERSION_KEYS = {"name", "version", "stage", "digest", "kind", "size", "files", "created_at", "created_by",
                "description", "framework", "metrics", "params", "tags", "datasets"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")


def _setup(mreg, project):
    (project / "a.bin").write_bytes(b"first")
    (project / "b.bin").write_bytes(b"second!")
    (project / "train.csv").write_bytes(b"x,y\n")
    mreg("register", "sentiment", "a.bin", "-m", "acc=0.8", "-p", "lr=0.1", "-t", "team=nlp",
         "--description", "baseline", "--framework", "sklearn", "--dataset", "train=train.csv")
    mreg("register", "sentiment", "b.bin", "--stage", "production")
    mreg("register", "sentiment", "b.bin", "--bump", "minor")
    mreg("register", "vision/resnet", "a.bin")


def test_show_ref_prints_every_key_of_the_version_document(mreg, project):
    _setup(mreg, project)
    doc = mreg("show", "sentiment@1.0.0", "--json").json
    assert VERSION_KEYS <= set(doc)
    assert doc["name"] == "sentiment" and doc["version"] == "1.0.0" and doc["stage"] == "development"
    assert doc["digest"] == "sha256:" + hashlib.sha256(b"first").hexdigest()
    assert (doc["kind"], doc["size"], doc["files"]) == ("file", 5, 1)
    assert ISO_UTC.match(doc["created_at"]) and doc["created_by"] == "tester@example.com"
    assert (doc["description"], doc["framework"]) == ("baseline", "sklearn")
    assert (doc["metrics"], doc["params"], doc["tags"]) == ({"acc": 0.8}, {"lr": 0.1}, {"team": "nlp"})
    assert isinstance(doc["datasets"]["train"], dict)
    assert doc["datasets"]["train"]["digest"] == "sha256:" + hashlib.sha256(b"x,y\n").hexdigest()
    assert mreg("show", "sentiment@production", "--json").json["version"] == "1.0.1"
    assert mreg("show", "sentiment@latest", "--json").json["version"] == "1.1.0"
    assert mreg("show", "sentiment@v1.0.0", "--json").json == doc


def test_show_ref_plain_lines_hold_whole_values(mreg, project):
    _setup(mreg, project)
    out = mreg("show", "sentiment@1.0.0").out
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["name"] == "sentiment" and lines["version"] == "1.0.0"
    assert lines["digest"] == "sha256:" + hashlib.sha256(b"first").hexdigest()
    assert lines["size"] == "5" and lines["metrics.acc"] == "0.8" and lines["tags.team"] == "nlp"
    assert "\x1b" not in out


def test_show_prints_a_dataset_object_whatever_types_its_metadata_file_gave(mreg, project):
    (project / "a.bin").write_bytes(b"first")
    (project / "meta.json").write_text('{"datasets": {"train": {"uri": 5, "digest": "d1"}, "eval": {"rows": 3}}}')
    mreg("register", "m", "a.bin", "--metadata-file", "meta.json", "-q")
    lines = dict(line.split(": ", 1) for line in mreg("show", "m@1.0.0").out.splitlines())
    assert lines["datasets.train"] == "5 d1" and lines["datasets.eval"] == ""


def test_show_name_lists_its_versions(mreg, project):
    _setup(mreg, project)
    docs = mreg("show", "sentiment", "--json").json
    assert [d["version"] for d in docs] == ["1.0.0", "1.0.1", "1.1.0"]
    assert all(VERSION_KEYS <= set(d) for d in docs)
    assert [d["stage"] for d in docs] == ["development", "production", "development"]
    rows = [line.split("\t") for line in mreg("show", "sentiment").out.splitlines()]
    assert [row[0] for row in rows] == ["1.1.0", "1.0.1", "1.0.0"]  # newest first
    assert rows[1][1] == "production"
    assert rows[2][-1] == "sha256:" + hashlib.sha256(b"first").hexdigest()
    # A metric only one version in three has is no column.
    assert [len(row) for row in rows] == [6, 6, 6]


def test_show_name_has_a_column_for_each_metric_most_versions_have(mreg, project):
    from tests.cli.test_output import at_terminal

    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin", "-m", "accuracy=0.9", "-m", "loss=0.3", "-m", "once=1")
    mreg("register", "m", "m.bin", "-m", "accuracy=0.93", "-m", "loss=0.25")
    mreg("register", "m", "m.bin", "-m", "accuracy=0.95")
    rows = [line.split("\t") for line in mreg("show", "m").out.splitlines()]
    assert [row[:4] for row in rows] == [["1.0.2", "development", "0.95", ""],
                                         ["1.0.1", "development", "0.93", "0.25"],
                                         ["1.0.0", "development", "0.9", "0.3"]]
    assert all(len(row) == 8 for row in rows)
    drawn = at_terminal(["show", "m"], project, columns=160)
    header = drawn.splitlines()[0]
    assert "ACCURACY" in header and "LOSS" in header and "ONCE" not in header
    assert "0.93" in drawn and "0.25" in drawn


def test_list_and_ls(mreg, project):
    assert mreg("list", "--json").json == []
    assert mreg("list").out == ""
    _setup(mreg, project)
    rows = mreg("list", "--json").json
    assert [{k: r[k] for k in ("name", "versions", "latest", "production")} for r in rows] == [
        {"name": "sentiment", "versions": 3, "latest": "1.1.0", "production": "1.0.1"},
        {"name": "vision/resnet", "versions": 1, "latest": "1.0.0", "production": None},
    ]
    assert mreg("ls", "--json").json == rows
    plain = [line.split("\t") for line in mreg("ls").out.splitlines()]
    assert [row[:4] for row in plain] == [["sentiment", "3", "1.1.0", "1.0.1"], ["vision/resnet", "1", "1.0.0", "-"]]


def test_long_names_are_never_truncated_when_piped(mreg, project):
    name = "/".join(["segment-" + "x" * 40] * 4)
    assert len(name) < 200
    (project / "a.bin").write_bytes(b"a")
    mreg("register", name, "a.bin", "--version", "12.34.56-rc.7")
    assert mreg("list").out.split("\t")[0] == name
    assert mreg("show", name).out.split("\t")[0] == "12.34.56-rc.7"
    assert f"name: {name}\n" in mreg("show", f"{name}@latest").out


def test_show_errors(mreg, project):
    _setup(mreg, project)
    assert mreg("show", "nosuch", expect=1).err.startswith("mreg: error: no model named 'nosuch'")
    mreg("show", "sentiment@2.0.0", expect=1)
    mreg("show", "sentiment@staging", expect=1)
    mreg("show", "sentiment@", expect=2)
    r = mreg("show", "Sentiment", expect=2)
    assert "'sentiment'" in r.err


def test_piped_values_never_span_lines_or_columns(mreg, project):
    (project / "a.bin").write_bytes(b"a")
    mreg("register", "m", "a.bin", "--description", "line one\nline two", "-t", "note=a\tb")
    lines = mreg("show", "m@1.0.0").out.splitlines()
    assert "description: line one\\nline two" in lines
    assert "tags.note: a\\tb" in lines
    assert all(": " in line for line in lines)  # every line is one key and its value
    # The JSON keeps the exact text.
    doc = mreg("show", "m@1.0.0", "--json").json
    assert doc["description"] == "line one\nline two" and doc["tags"]["note"] == "a\tb"
