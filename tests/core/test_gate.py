"""Conditions on moves (mreg.core.gate): the filter language plus @SELECTOR.FIELD and arithmetic."""

from __future__ import annotations

import pytest

from mreg.core.gate import compile_gate
from mreg.core.query import FilterError
from mreg.errors import ExitCode, NotFoundError, UsageError


def _record(version: str, stage: str, created_at: str, **fields) -> dict:
    return {"version": version, "stage": stage, "created_at": created_at, "size": 1000, "metrics": {}, "params": {},
            "tags": {}, "datasets": {}, **fields}


MODEL = {"name": "cls", "versions": {
    "1.0.0": _record("1.0.0", "deprecated", "2026-01-01T00:00:00.000000Z", metrics={"auc": 0.80}),
    "1.2.0": _record("1.2.0", "production", "2026-02-01T00:00:00.000000Z", size=2000,
                     metrics={"auc": 0.918, "f1": 0.7, "latency_ms": 20}, tags={"team": "nlp", "release": "1.9.0"},
                     params={"lr": "0.01"}),
    "1.10.0": _record("1.10.0", "staging", "2026-03-01T00:00:00.000000Z", size=2100,
                      metrics={"auc": 0.912, "f1": 0.75, "latency_ms": 21, "zero": 0},
                      tags={"team": "nlp", "release": "1.10.0"}, params={"lr": "0.02"}),
}}


def resolve(model: dict, selector: str) -> str:
    """A stand-in for Repo.resolve over MODEL: versions, latest and stages (a stage nobody holds is not found)."""
    versions = model["versions"]
    if selector == "latest":
        return "1.10.0"
    if selector in versions:
        return selector
    holders = [v for v, r in versions.items() if r["stage"] == selector]
    if selector in ("development", "testing", "staging", "production", "deprecated", "archived"):
        if not holders:
            raise NotFoundError(f"cls has no version in {selector}")
        return holders[0]
    raise UsageError(f"invalid reference cls@{selector}")


def run(text: str, version: str = "1.10.0") -> dict:
    return compile_gate(text).evaluate(MODEL, version, resolve)


@pytest.mark.parametrize("text, expected", [
    # numbers, against a written value and against another version's field
    ("metrics.auc > 0.9", True),
    ("metrics.auc > @production.metrics.auc", False),
    ("metrics.auc >= @1.0.0.metrics.auc", True),
    ("0.95 > metrics.auc", True),  # a value on the left reads as the field on the right says
    ("metrics.latency_ms <= @production.metrics.latency_ms * 1.1", True),
    ("metrics.latency_ms <= @production.metrics.latency_ms * 1.01", False),
    ("params.lr = @production.params.lr * 2", True),  # a number written as text counts as a number
    ("metrics.auc + 0.01 > @production.metrics.auc", True),
    ("(metrics.auc + 0.01) > @production.metrics.auc", True),
    # versions by semver, not as strings ("1.10.0" < "1.9.0" as text)
    ("version > @production.version", True),
    ("version > 1.9.0", True),
    ("tags.release > @production.tags.release", False),  # tags are text: compared as strings
    # times as times
    ("created_at > @production.created_at", True),
    ("created_at < 2026-02-15", False),
    ("@latest.created_at >= @1.0.0.created_at", True),
    # strings
    ("tags.team = @production.tags.team", True),
    ("tags.team != 'nlp'", False),
    ("tags.team like 'n%'", True),
    ("tags.team not in ('cv', 'asr')", True),
    # sizes
    ("size < @production.size * 1.1", True),
    ("size < 2kB", False),
    ("@latest.size = size", True),
    # precedence: * and / before + and -, parentheses first, unary minus
    ("1 + 2 * 3 = 7", True),
    ("(1 + 2) * 3 = 9", True),
    ("10 - 4 - 3 = 3", True),
    ("2 * 6 / 4 = 3", True),
    ("- metrics.latency_ms = -21", True),
    ("-(2 + 1) * -1 = 3", True),
    # logic
    ("metrics.auc > 0.9 and not (metrics.f1 < 0.5 or tags.team = 'cv')", True),
])
def test_comparisons_of_each_kind(text, expected):
    assert run(text)["result"] is expected, run(text)


@pytest.mark.parametrize("text", [
    "metrics.missing > 0",  # a field the version lacks
    "metrics.auc > @development.metrics.auc",  # no version in that stage
    "metrics.auc > @production.metrics.missing",
    "metrics.auc / metrics.zero > 1",  # division by zero
    "metrics.auc > 1 or metrics.missing > 0",  # false or unknown
    "not metrics.missing > 0",
])
def test_unknown(text):
    assert run(text)["result"] is None


def test_kleene_logic_lets_a_known_answer_through_an_unknown():
    assert run("metrics.missing > 0 or metrics.auc > 0.9")["result"] is True
    assert run("metrics.missing > 0 and metrics.auc > 0.95")["result"] is False


def test_each_clause_reports_the_values_it_saw():
    result = run("metrics.auc > @production.metrics.auc and metrics.f1 > @staging.metrics.f1 - 0.1")
    assert result["result"] is False
    assert result["versions"] == {"production": "1.2.0", "staging": "1.10.0"}
    first, second = result["clauses"]
    assert first == {"clause": "metrics.auc > @production.metrics.auc", "result": False,
                     "values": {"metrics.auc": 0.912, "@production.metrics.auc": 0.918},
                     "line": "metrics.auc 0.912 > @production.metrics.auc 0.918: false"}
    assert second["line"] == "metrics.f1 0.75 > @staging.metrics.f1 0.75 - 0.1: true"
    missing = run("metrics.auc > @development.metrics.auc")["clauses"][0]
    assert missing["line"] == ("metrics.auc 0.912 > @development.metrics.auc "
                               "(none: cls has no version in development): unknown")
    assert run("tags.nope = 'x'")["clauses"][0]["line"] == "tags.nope (missing) = 'x': unknown"


def test_a_selector_holding_dots_and_a_quoted_key():
    model = {"name": "cls", "versions": {
        "1.2.0": _record("1.2.0", "production", "2026-02-01T00:00:00.000000Z", tags={"cost center": "a"}),
        "1.3.0-rc.1": _record("1.3.0-rc.1", "staging", "2026-03-01T00:00:00.000000Z", tags={"cost center": "a"}),
    }}
    gate = compile_gate("tags.`cost center` = @1.2.0.tags.`cost center` and @1.3.0-rc.1.version > @1.2.0.version")
    assert gate.evaluate(model, "1.3.0-rc.1", lambda m, s: s)["result"] is True


def test_an_unknown_selector_is_the_resolver_s_error():
    with pytest.raises(UsageError):
        run("metrics.auc > @nonsense.metrics.auc")


def _fault(text: str) -> FilterError:
    with pytest.raises(FilterError) as caught:
        compile_gate(text)
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value


@pytest.mark.parametrize("text, column, words", [
    ("metrics.auc >", 14, "expected a field or a value after '>'"),
    ("metrics.auc", 12, "expected an operator"),
    ("metrics.auc > 0.9 and", 22, "after 'and'"),
    ("(metrics.auc > 0.9", 19, "expected ')'"),
    ("metrics.auc > 0.9)", 18, "unmatched ')'"),
    ("", 1, "empty condition"),
    ("metrics.auc > @production", 15, "expected @SELECTOR.FIELD"),
    ("metrics.auc > @production.nosuch", 15, "expected @SELECTOR.FIELD"),
    ("metrics.auc >> 1", 14, "expected a field or a value"),
    ("metrics.auc > 1 +", 18, "after '+'"),
    ("not metrics.auc", 16, "expected an operator"),
    ("metrics.auc-0.1 > 1", 9, "write spaces around + and -"),
])
def test_syntax_errors_point_at_the_fault(text, column, words):
    error = _fault(text)
    assert error.position + 1 == column and words in error.message, error.message
    shown, caret = error.pointer().split("\n")
    assert shown == text and caret == " " * (column - 1) + "^"


@pytest.mark.parametrize("text, column", [
    ("metrics.auc > @other/model.metrics.auc", 15),
    ("metrics.auc > @team/cls@production.metrics.auc", 15),
    ("metrics.auc > other@production.metrics.auc", 15),
    ("cls@production.metrics.auc < metrics.auc", 1),
])
def test_an_operand_naming_another_model_is_refused(text, column):
    error = _fault(text)
    assert "another model" in error.message and error.position + 1 == column


@pytest.mark.parametrize("text, column, what", [
    ("tags.team + 1 > 2", 1, "arithmetic on text"),
    ("metrics.auc * 'x' > 1", 15, "arithmetic on text"),
    ("@production.description - 1 > 0", 1, "arithmetic on text"),
    ("version * 2 > 1", 1, "arithmetic on a version"),
    ("created_at + 1 > 0", 1, "arithmetic on a time"),
    ("metrics.auc + 1.2.0 > 1", 15, "arithmetic on a version"),
    ("(metrics.auc > 1) * 2 > 1", 1, "needs numbers, not a condition"),
])
def test_arithmetic_on_anything_but_numbers_is_refused(text, column, what):
    error = _fault(text)
    assert what in error.message and error.position + 1 == column, error.message


def test_a_condition_where_a_number_belongs_and_back():
    assert "expected 'and', 'or' or ')'" in _fault("(metrics.auc > 1) > 2").message
    assert "expected an operator" in _fault("metrics.auc > 1 and (metrics.f1)").message


def test_nesting_is_bounded():
    deep = "(" * 150 + "metrics.auc" + ")" * 150 + " > 1"
    assert "nested too deeply" in _fault(deep).message
    assert run("(" * 50 + "metrics.auc" + ")" * 50 + " > 0.9")["result"] is True
    # A long chain of operators is a deep tree too: refused at parse, never a RecursionError later.
    assert "nested too deeply" in _fault("1" + " + 1" * 2000 + " > 0").message
    assert run("1" + " + 1" * 90 + " = 91")["result"] is True


FILTERS = [
    "metrics.auc >= 0.9", "metrics.auc > 0.95", "version >= 1.9.0", "version < 1.9.0", "created_at > 2026-02-15",
    "created_at > -7d", "size > 2kB", "size < 2KiB", "tags.team = 'nlp'", "tags.team ilike 'N%'",
    "tags.release > '1.9.0'", "tags.release > 1.9.0", "stage in ('staging', 'production')", "stage not in ('staging')",
    "not metrics.nope > 1", "metrics.nope > 1 or metrics.f1 > 0.7", "(metrics.auc > 0.9 and not tags.team = 'cv')",
    "params.lr = 0.02", "params.lr > '0.015'", "metrics.f1 = true", "name like 'c%'", "description = ''",
]


def test_a_search_filter_means_the_same_as_a_condition():
    from mreg.core.query import compile_filter
    from mreg.core.version import document

    for version, record in MODEL["versions"].items():
        doc = document("cls", record)
        for text in FILTERS:
            assert (run(text, version)["result"] is True) == compile_filter(text).matches(doc), (version, text)
