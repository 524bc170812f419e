"""Model names and references (SPEC §1), checked in the core directly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg.core.names import MAX_NAME_LENGTH, Reference, parse_reference, validate_name
from mreg.errors import ExitCode, UsageError


@pytest.mark.parametrize("name", ["sentiment", "a", "0", "team/sentiment", "a.b_c-d", "x/y/z9", "a" * MAX_NAME_LENGTH])
def test_valid_names_are_returned_unchanged(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        ("..", "'..' segments"),
        ("../x", "'..' segments"),
        ("a/../b", "'..' segments"),
        ("a/./b", "'..' segments"),
        (".", "'..' segments"),
        ("/abs", "absolute"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("a" * (MAX_NAME_LENGTH + 1), "longer than 200"),
        ("a\x01b", "control characters"),
        ("a\nb", "control characters"),
        ("a\x7fb", "control characters"),
        (".hidden", "must start with"),
        ("-dash", "must start with"),
        ("a b", "must start with"),
        ("a\\b", "must start with"),
        ("caf\u00e9", "must start with"),
    ],
)
def test_invalid_names_say_which_rule_broke(name, rule):
    with pytest.raises(UsageError) as caught:
        validate_name(name)
    assert rule in caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(("name", "lower"), [("Sentiment", "sentiment"), ("Team/BERT-base", "team/bert-base")])
def test_upper_case_suggests_the_lower_case_form(name, lower):
    with pytest.raises(UsageError) as caught:
        validate_name(name)
    assert "upper case" in caught.value.message
    assert repr(lower) in caught.value.hint


def test_upper_case_with_another_fault_reports_the_other_fault():
    # Lower-casing would not make "My Model" valid, so suggesting it would mislead.
    with pytest.raises(UsageError) as caught:
        validate_name("My Model")
    assert "upper case" not in caught.value.message


def test_references():
    assert parse_reference("m") == Reference("m", None)
    assert parse_reference("m@1.2.0") == Reference("m", "1.2.0")
    assert parse_reference("team/m@latest") == Reference("team/m", "latest")
    assert parse_reference("m@production").selector == "production"
    assert parse_reference("m").is_latest and parse_reference("m@latest").is_latest
    assert not parse_reference("m@1.0.0").is_latest
    assert str(parse_reference("team/m@v1.0.0")) == "team/m@v1.0.0"


@pytest.mark.parametrize("text", ["m@", "M@1.0.0", "../m@1.0.0", "@1.0.0"])
def test_bad_references_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_reference(text)


_segment = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True).filter(lambda s: s not in (".", ".."))


@given(st.lists(_segment, min_size=1, max_size=4))
def test_any_name_built_from_valid_segments_is_valid(segments):
    name = "/".join(segments)
    if len(name) <= MAX_NAME_LENGTH:
        assert validate_name(name) == name


@given(st.text(max_size=40))
def test_validation_accepts_only_the_documented_alphabet(name):
    try:
        validate_name(name)
    except UsageError:
        return
    segments = name.split("/")
    assert all(s and s not in (".", "..") and s[0] in "abcdefghijklmnopqrstuvwxyz0123456789" for s in segments)
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-/")
