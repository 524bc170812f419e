"""`mreg search`: the filter language (SPEC §4) wired to the CLI. The parser itself is
unit-tested in tests/core/test_query.py; here each feature is checked end to end."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from mregtest import run_on_pty

# name, version, stage, metrics, tags, description
VERSIONS = [
    ("sentiment", "1.2.0", "production", {"accuracy": 0.91, "f1": 0.88}, {"team": "ML Team", "owner": "ana"}, "first"),
    ("sentiment", "1.9.0", "staging", {"accuracy": 0.86, "f1": 0.9}, {"team": "nlp"}, "It's good"),
    ("sentiment", "1.10.0", "development", {"accuracy": 0.95}, {"team": "nlp"}, ""),
    ("vision/resnet", "2.0.0", "production", {"accuracy": 0.7, "top5": 0.9}, {"team": "cv"}, "Resnet"),
    ("vision/vit", "1.0.0", "archived", {}, {}, "no metrics at all"),
]
ROUTE = {"development": [], "staging": ["testing", "staging"], "production": ["testing", "staging", "production"],
         "archived": ["archived"]}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The registry, built once with the Python API and copied for each test."""
    import mreg as api

    import os

    folder = tmp_path_factory.mktemp("search")
    saved = os.environ.get("MREG_USER")
    os.environ["MREG_USER"] = "tester@example.com"  # module fixtures run before the per-test environment
    try:
        registry = api.init(str(folder))
        for i, (name, version, stage, metrics, tags, description) in enumerate(VERSIONS):
            path = folder / f"a{i}.bin"
            path.write_text(f"{name} {version}")
            registry.register(name, str(path), version=version, metrics=[f"{k}={v}" for k, v in metrics.items()],
                              tags=[f"{k}={v}" for k, v in tags.items()], description=description)
            for step in ROUTE[stage]:
                registry.transition(f"{name}@{version}", step)
    finally:
        if saved is None:
            os.environ.pop("MREG_USER", None)
        else:
            os.environ["MREG_USER"] = saved
    return folder / ".mreg"


@pytest.fixture
def search(mreg, project, template):
    shutil.rmtree(project / ".mreg")
    shutil.copytree(template, project / ".mreg")

    def run(*args, expect=0):
        return mreg("search", *args, expect=expect)

    return run


def found(search, *args) -> list[str]:
    docs = search(*args, "--json").json
    return [f"{d['name']}@{d['version']}" for d in docs]


ALL = ["sentiment@1.2.0", "sentiment@1.9.0", "sentiment@1.10.0", "vision/resnet@2.0.0", "vision/vit@1.0.0"]


FILTERS = [
    ("", ALL),
    ("metrics.accuracy = 0.95", ["sentiment@1.10.0"]),
    ("metrics.accuracy == 0.95", ["sentiment@1.10.0"]),
    ("metrics.accuracy != 0.95", ["sentiment@1.2.0", "sentiment@1.9.0", "vision/resnet@2.0.0"]),
    ("metrics.accuracy <> 0.95", ["sentiment@1.2.0", "sentiment@1.9.0", "vision/resnet@2.0.0"]),
    ("metrics.accuracy > 0.9", ["sentiment@1.2.0", "sentiment@1.10.0"]),
    ("metrics.accuracy >= 0.91", ["sentiment@1.2.0", "sentiment@1.10.0"]),
    ("metrics.accuracy < 0.86", ["vision/resnet@2.0.0"]),
    ("metrics.accuracy <= 0.86", ["sentiment@1.9.0", "vision/resnet@2.0.0"]),
    ("stage = 'production'", ["sentiment@1.2.0", "vision/resnet@2.0.0"]),
    ("name like 'sent%'", ["sentiment@1.2.0", "sentiment@1.9.0", "sentiment@1.10.0"]),
    ("name like 'vision/_i_'", ["vision/vit@1.0.0"]),
    ("name like 'SENT%'", []),
    ("name ilike 'SENT%'", ["sentiment@1.2.0", "sentiment@1.9.0", "sentiment@1.10.0"]),
    ("description not like '%o%'", ["sentiment@1.2.0", "sentiment@1.10.0", "vision/resnet@2.0.0"]),
    ("tags.team in ('cv', 'ML Team')", ["sentiment@1.2.0", "vision/resnet@2.0.0"]),
    ("tags.team not in ('cv', 'ML Team')", ["sentiment@1.9.0", "sentiment@1.10.0"]),
    ("stage in ('production', \"archived\")", ["sentiment@1.2.0", "vision/resnet@2.0.0", "vision/vit@1.0.0"]),
    # quoting: double quotes, spaces inside, an escaped quote
    ('tags.team = "ML Team"', ["sentiment@1.2.0"]),
    ("tags.team = 'ML Team'", ["sentiment@1.2.0"]),
    ("description = 'It\\'s good'", ["sentiment@1.9.0"]),
    ('description = "It\'s good"', ["sentiment@1.9.0"]),
    # semver, not strings: 1.10.0 > 1.9.0
    ("version >= 1.10.0", ["sentiment@1.10.0", "vision/resnet@2.0.0"]),
    ("version > 1.9.0 and version < 2.0.0", ["sentiment@1.10.0"]),
    ("version = v1.2.0", ["sentiment@1.2.0"]),
    # times
    ("created_at > -7d", ALL),
    ("created_at < -7d", []),
    ("created_at > 2000-01-01 and created_at < '2999-01-01T00:00:00Z'", ALL),
    ("created_by = 'tester@example.com'", ALL),
    # combinations and precedence: `and` binds tighter than `or`
    ("stage = 'archived' or stage = 'production' and metrics.accuracy > 0.8", ["sentiment@1.2.0", "vision/vit@1.0.0"]),
    ("(stage = 'archived' or stage = 'production') and metrics.accuracy > 0.8", ["sentiment@1.2.0"]),
    ("not stage = 'production' and name like 'sent%'", ["sentiment@1.9.0", "sentiment@1.10.0"]),
    ("not (stage = 'production' and name like 'sent%')", ALL[1:]),
    ("metrics.accuracy >= 0.85 and (stage = 'production' or tags.team = \"ML Team\") and name like 'sent%'",
     ["sentiment@1.2.0"]),
    ("stage = 'production' AND metrics.accuracy > 0.8 OR tags.team = 'cv'", ["sentiment@1.2.0", "vision/resnet@2.0.0"]),
    # a field the version lacks never matches, whatever the operator
    ("metrics.f1 > 0", ["sentiment@1.2.0", "sentiment@1.9.0"]),
    ("metrics.f1 != 0.5", ["sentiment@1.2.0", "sentiment@1.9.0"]),
    ("not metrics.f1 = 0.88", ["sentiment@1.9.0"]),
    ("metrics.top5 <= 1 or metrics.nothing = 1", ["vision/resnet@2.0.0"]),
    ("tags.owner not like 'x%'", ["sentiment@1.2.0"]),
    ("tags.owner not in ('x')", ["sentiment@1.2.0"]),
]


def test_filters(search):
    """Each operator and combination (one registry, one CLI call per filter)."""
    problems = []
    for filter_text, expected in FILTERS:
        args = (filter_text,) if filter_text else ()
        got = found(search, *args)
        if sorted(got) != sorted(expected):
            problems.append(f"{filter_text!r}: got {got}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_a_key_no_version_has_is_named_with_the_closest_keys(search):
    r = search("metrics.acuracy > 0.9", "--json")
    assert r.json == []
    assert r.err == "mreg: warning: no version has metrics.acuracy; did you mean metrics.accuracy?\n"
    r = search("tags.tem = 'nlp' and metrics.f1 > 0.99")
    assert r.out == "" and r.err == "mreg: warning: no version has tags.tem; did you mean tags.team?\n"
    r = search("params.lr > 0")  # no version has any params
    assert r.err == "mreg: warning: no version has params.lr\n"
    # A key that exists but matches nothing is no mistake: nothing is said.
    r = search("metrics.accuracy > 0.99")
    assert r.out == "" and r.err == ""


def test_sort_desc_and_limit(search):
    assert found(search, "--sort", "metrics.accuracy") == [
        "vision/resnet@2.0.0", "sentiment@1.9.0", "sentiment@1.2.0", "sentiment@1.10.0", "vision/vit@1.0.0"]
    # descending keeps versions without the metric last
    assert found(search, "--sort", "metrics.accuracy", "--desc") == [
        "sentiment@1.10.0", "sentiment@1.2.0", "sentiment@1.9.0", "vision/resnet@2.0.0", "vision/vit@1.0.0"]
    assert found(search, "metrics.accuracy > 0", "--sort", "metrics.accuracy", "--desc", "--limit", "2") == [
        "sentiment@1.10.0", "sentiment@1.2.0"]
    assert found(search, "name = 'sentiment'", "--sort", "version", "--desc") == [
        "sentiment@1.10.0", "sentiment@1.9.0", "sentiment@1.2.0"]
    assert found(search, "-n", "0") == []


def test_name_glob_and_stage_options(search):
    assert found(search, "--name", "vision/*") == ["vision/resnet@2.0.0", "vision/vit@1.0.0"]
    assert found(search, "--name", "sent*", "--stage", "production") == ["sentiment@1.2.0"]
    assert found(search, "metrics.accuracy > 0", "--stage", "production") == ["sentiment@1.2.0", "vision/resnet@2.0.0"]
    assert found(search, "--name", "nothing*") == []
    search("--stage", "prod", expect=2)


def test_json_is_an_array_of_version_documents(search):
    docs = search("stage = 'production'", "--json").json
    assert isinstance(docs, list) and len(docs) == 2
    for doc in docs:
        for key in ("name", "version", "stage", "digest", "kind", "size", "files", "created_at", "created_by",
                    "description", "framework", "metrics", "params", "tags", "datasets"):
            assert key in doc, key
    assert search("metrics.accuracy > 5", "--json").json == []


def test_table_shows_the_fields_named_in_filter_and_sort(search):
    out = search("metrics.accuracy > 0.9 and tags.team = 'nlp'", "--sort", "metrics.f1").out
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows == [[ "sentiment", "1.10.0", "development", "0.95", "nlp", "", rows[0][-1]]]
    out = search("stage = 'production'", "--sort", "metrics.top5", "--desc").out
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[:4] for r in rows] == [["vision/resnet", "2.0.0", "production", "0.9"],
                                     ["sentiment", "1.2.0", "production", ""]]


@pytest.mark.parametrize("filter_text, column", [
    ("metrics.accuracy >> 0.9", 19),
    ("metrics.accuracy > 0.9 and", 27),
    ("(stage = 'production'", 22),
    ("stage = 'production", 9),
    ("colour = 'red'", 1),
    ("metrics.accuracy like 5", 23),
    ("tags.team in ()", 15),
    ("version >= 1.x", 12),
    ("created_at > lastweek", 14),
])
def test_a_syntax_error_points_at_the_fault(search, filter_text, column):
    r = search(filter_text, expect=2)
    lines = r.err.splitlines()
    assert lines[0].startswith("mreg: error: ")
    assert r.out == ""
    # the filter, then a caret under the faulty column, both as hint lines
    assert lines[-2] == "hint: " + filter_text
    caret = lines[-1]
    assert caret.startswith("hint: ") and caret.strip().endswith("^")
    assert caret.index("^") - len("hint: ") + 1 == column, r.err


def test_bad_sort_key_and_limit(search):
    search("--sort", "colour", expect=2)
    search("--limit", "-1", expect=2)


def test_search_at_a_terminal_is_a_table(search, project):
    """Under a pseudo-terminal the output is a rich table with the metric columns."""
    run = run_on_pty(["search", "metrics.accuracy > 0.9"], project, stream="both",
                     env={**os.environ, "COLUMNS": "200"})
    assert run.code == 0
    text = run.drawn.decode()
    assert "METRICS.ACCURACY" in text and "0.95" in text and "sentiment" in text
