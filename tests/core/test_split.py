"""The split arithmetic (mreg/core/split.py): whole percentages that sum to 100, shared in proportion."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from mreg.core import split as splits
from mreg.core.semver import Version
from mreg.errors import UsageError

VERSIONS = [f"1.{minor}.{patch}" for minor in range(4) for patch in range(3)] + ["2.0.0-rc.1", "2.0.0"]


@st.composite
def a_split(draw, min_size=0):
    """A valid split: distinct versions, shares 1-100 summing to 100."""
    versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=min_size, max_size=8, unique=True))
    if not versions:
        return {}
    # Cut 0..100 at distinct points: each piece at least 1.
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=len(versions) - 1, max_size=len(versions) - 1,
                                unique=True)))
    bounds = [0, *cuts, 100]
    return {v: bounds[i + 1] - bounds[i] for i, v in enumerate(versions)}


def _sound(split: dict) -> None:
    assert all(isinstance(s, int) and s >= 1 for s in split.values()), split
    assert not split or sum(split.values()) == 100, split
    assert splits.is_split(split)


@given(a_split(), st.sampled_from(VERSIONS), st.integers(1, 100))
def test_a_share_given_keeps_the_sum_at_100_and_the_others_in_proportion(old, version, percent):
    others = {v: s for v, s in old.items() if v != version}
    new, dropped = splits.with_share(old, version, percent)
    _sound(new) if others or percent == 100 else None
    assert new[version] == percent
    rest = 100 - percent
    whole = sum(others.values())
    for other, share in others.items():
        exact = Fraction(share * rest, whole)
        got = new.get(other, 0)
        assert abs(got - exact) < 1, (old, version, percent, new)  # within rounding
        assert (other in dropped) == (got == 0)
    if others:
        assert sum(new.values()) == 100


@given(a_split(min_size=1), st.data())
def test_taking_a_version_out_scales_the_others_up_to_100(old, data):
    version = data.draw(st.sampled_from(sorted(old)))
    new, dropped = splits.without(old, version)
    assert version not in new
    _sound(new)
    others = {v: s for v, s in old.items() if v != version}
    assert bool(new) == bool(others)
    for other, share in others.items():
        assert abs(new.get(other, 0) - Fraction(share * 100, sum(others.values()))) < 1
        assert new.get(other, 0) >= share  # scaled up, never down
    assert dropped == []


@given(st.dictionaries(st.sampled_from(VERSIONS), st.integers(1, 100), max_size=8), st.integers(1, 100))
def test_scaling_gives_the_missing_points_to_the_largest_remainders(shares, total):
    new, dropped = splits.scale(shares, total)
    assert sum(new.values()) == (total if shares else 0)
    whole = sum(shares.values())
    floors = {v: s * total // whole for v, s in shares.items()}
    extra = {v for v in shares if new.get(v, 0) > floors[v]}
    assert all(new.get(v, 0) - floors[v] in (0, 1) for v in shares)
    remainder = {v: s * total % whole for v, s in shares.items()}
    for winner in extra:
        for loser in set(shares) - extra:
            assert remainder[winner] > remainder[loser] or (
                remainder[winner] == remainder[loser] and Version.parse(winner) > Version.parse(loser))
    assert set(dropped) == set(shares) - set(new)


def test_ties_go_to_the_newer_version():
    assert splits.scale({"1.0.0": 1, "1.1.0": 1}, 1) == ({"1.1.0": 1}, ["1.0.0"])
    assert splits.scale({"2.0.0": 1, "2.0.0-rc.1": 1, "1.9.0": 1}, 2) == ({"2.0.0": 1, "2.0.0-rc.1": 1}, ["1.9.0"])
    # 1.0.0 at 100 taking a 1% canary in three equal ways: 33 each, the newest gets the last point.
    new, _ = splits.with_share({"1.0.0": 33, "1.1.0": 33, "1.2.0": 34}, "2.0.0", 1)
    assert new == {"2.0.0": 1, "1.0.0": 33, "1.1.0": 33, "1.2.0": 33}


def test_a_share_that_rounds_to_zero_leaves_and_is_named():
    new, dropped = splits.with_share({"1.0.0": 99, "1.1.0": 1}, "1.2.0", 60)
    assert new == {"1.2.0": 60, "1.0.0": 40} and dropped == ["1.1.0"]


@given(a_split(min_size=1))
def test_a_split_written_out_reads_back_the_same(split):
    text = ",".join(f"{v}={s}" for v, s in split.items())
    assert splits.parse_split(text) == split
    assert splits.parse_split(split) == split
    assert list(splits.ordered(split).values()) == sorted(split.values(), reverse=True)


@pytest.mark.parametrize("text, problem", [
    ("1.0.0=90,1.1.0=20", "sum to 110"),
    ("1.0.0=90", "sum to 90"),
    ("1.0.0=50,v1.0.0=50", "listed twice"),
    ("1.0.0=0,1.1.0=100", "outside 1-100"),
    ("1.0.0=101", "outside 1-100"),
    ("1.0.0=-5,1.1.0=105", "not a whole percentage"),
    ("1.0.0=50.5,1.1.0=49.5", "not a whole percentage"),
    ("1.0.0", "not VERSION=PCT"),
    ("latest=100", "not a version number"),
    ("", "not VERSION=PCT"),
])
def test_a_bad_split_names_the_rule_it_broke(text, problem):
    with pytest.raises(UsageError, match=problem):
        splits.parse_split(text)


@pytest.mark.parametrize("text", ["0", "101", "1.5", "ten", "", "-1", "1e2", "٣"])
def test_a_bad_percentage_is_a_usage_error(text):
    with pytest.raises(UsageError):
        splits.parse_percent(text)


@settings(max_examples=30)
@given(st.integers(1, 100))
def test_a_percentage_reads_back_with_or_without_the_sign(percent):
    assert splits.parse_percent(str(percent)) == percent == splits.parse_percent(f"{percent}%")
