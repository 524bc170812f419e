"""Semantic versions: what parses, how they order, what a bump gives."""

from __future__ import annotations

import pytest

from mreg.core.semver import Version, is_canonical, is_version
from mreg.errors import UsageError


@pytest.mark.parametrize("text, parsed", [
    ("1.2.3", Version(1, 2, 3)),
    ("v1.2.3", Version(1, 2, 3)),
    (" 0.0.0 ", Version(0, 0, 0)),
    ("1.2.3-rc.1", Version(1, 2, 3, ("rc", "1"))),
])
def test_parse(text, parsed):
    assert Version.parse(text) == parsed
    assert is_version(text)


@pytest.mark.parametrize("text", ["1.2", "1.2.3.4", "01.2.3", "1.2.3+build", "1.2.3-", "1.2.3-01", "one",
                                  "", "1." * 70 + "1"])
def test_anything_else_is_a_usage_error(text):
    with pytest.raises(UsageError):
        Version.parse(text)
    assert not is_version(text)


def test_precedence_follows_semver():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"]
    shuffled = list(reversed(ordered))
    assert [str(v) for v in sorted(Version.parse(t) for t in shuffled)] == ordered
    assert Version.parse("v1.0.0") == Version.parse("1.0.0")
    assert hash(Version.parse("v1.0.0")) == hash(Version.parse("1.0.0"))


@pytest.mark.parametrize("start, part, after", [
    ("1.2.3", "patch", "1.2.4"), ("1.2.3", "minor", "1.3.0"), ("1.2.3", "major", "2.0.0"),
    ("1.2.0-rc.1", "patch", "1.2.0"), ("1.2.0-beta", "minor", "1.2.0"), ("2.0.0-rc.1", "major", "2.0.0"),
    ("1.2.3-rc.1", "minor", "1.3.0"), ("1.2.3-rc.1", "major", "2.0.0"),
])
def test_bump(start, part, after):
    assert str(Version.parse(start).bump(part)) == after


def test_an_unknown_bump_is_a_usage_error():
    with pytest.raises(UsageError):
        Version(1, 0, 0).bump("huge")


def test_canonical_is_the_spelling_the_index_writes():
    assert is_canonical("1.2.3") and is_canonical("1.2.3-rc.1")
    assert not is_canonical("v1.2.3") and not is_canonical(" 1.2.3") and not is_canonical("1.2")
