"""Durations, user-written times and stored timestamps (mreg.core.timeparse)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mreg.core.timeparse import format_time, parse_duration, parse_time, parse_when, utc_now
from mreg.errors import ExitCode, UsageError

UTC = timezone.utc
NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


# --- parse_duration ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90s", 90),
        ("45m", 45 * 60),
        ("12h", 12 * 3600),
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        ("0", 0),
        ("0s", 0),
        ("  12h\n", 12 * 3600),
        ("1h30m", 5400),
        ("1d12h", 36 * 3600),
        ("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("007d", 7 * 86400),
    ],
)
def test_parse_duration(text, seconds):
    result = parse_duration(text)
    assert result == seconds
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "10",  # a unit is required except for 0 alone
        "-5s",
        "1.5h",
        "10x",
        "1H",  # units are lower case: M would be ambiguous
        "1 h",
        "1h 30m",
        "1h1h",  # each unit once
        "30m1h",  # largest first
        "h",
        "99999999999999999w",  # beyond what a timedelta can hold
        "1" * 70 + "s",
    ],
)
def test_parse_duration_rejects(text):
    with pytest.raises(UsageError) as info:
        parse_duration(text)
    assert info.value.message == f"invalid duration {text!r}: expected e.g. 90s, 45m, 12h, 30d, 2w"
    assert info.value.exit_code == ExitCode.USAGE


def test_parse_duration_rejects_non_text():
    with pytest.raises(UsageError):
        parse_duration(None)  # type: ignore[arg-type]


# --- parse_when -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01t10:00:00z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01 10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T10:00:00-0130", datetime(2026, 11, 1, 11, 30, tzinfo=UTC)),
        ("2026-11-01T00:30:00+01:00", datetime(2026, 10, 31, 23, 30, tzinfo=UTC)),
        ("2026-11-01T10:00:00.5Z", datetime(2026, 11, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("-7d", NOW - timedelta(days=7)),
        ("7d", NOW - timedelta(days=7)),
        ("-12h", NOW - timedelta(hours=12)),
        ("-1w", NOW - timedelta(weeks=1)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-1h30m", NOW - timedelta(minutes=90)),
        (" -7d ", NOW - timedelta(days=7)),
    ],
)
def test_parse_when(text, expected):
    result = parse_when(text, now=NOW)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


def test_parse_when_defaults_to_the_current_time():
    before = utc_now()
    result = parse_when("-1h")
    after = utc_now()
    assert before - timedelta(hours=1) <= result <= after - timedelta(hours=1)


def test_parse_when_takes_a_naive_now_as_utc():
    assert parse_when("-1d", now=datetime(2026, 11, 27)) == datetime(2026, 11, 26, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("yesterday", "expected an ISO date (2026-11-01)"),
        ("", "expected an ISO date"),
        ("--7d", "expected an ISO date"),
        ("-7x", "expected an ISO date"),
        ("-7", "expected an ISO date"),
        ("2026-13-01", "month must be in 1..12"),
        ("2026-02-30", "day is out of range for month"),
        ("2026-11-01T25:00:00", "hour must be in 0..23"),
        ("2026-11-01T10:00:00+24:00", "invalid time"),
        ("2026-11-01T", "expected an ISO date"),
        ("26-11-01", "expected an ISO date"),
        ("-99999999w", "too far in the past"),
    ],
)
def test_parse_when_rejects(text, fragment):
    with pytest.raises(UsageError) as info:
        parse_when(text, now=NOW)
    assert info.value.message.startswith(f"invalid time {text!r}: ")
    assert fragment in info.value.message
    assert "\n" not in info.value.message


# --- format_time / parse_time / utc_now ------------------------------------


def test_utc_now_is_aware_utc():
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_format_time():
    moment = datetime(2026, 11, 26, 10, 53, 38, 123456, tzinfo=UTC)
    assert format_time(moment) == "2026-11-26T10:53:38.123456Z"


def test_format_time_converts_to_utc_and_takes_naive_as_utc():
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 11, 26, 12, 0, tzinfo=plus_two)) == "2026-11-26T10:00:00.000000Z"
    assert format_time(datetime(2026, 11, 26, 12, 0)) == "2026-11-26T12:00:00.000000Z"


def test_format_time_pads_early_years():
    assert format_time(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-26T10:53:38.123456Z", datetime(2026, 11, 26, 10, 53, 38, 123456, tzinfo=UTC)),
        ("2026-11-26T10:53:38.123456789Z", datetime(2026, 11, 26, 10, 53, 38, 123456, tzinfo=UTC)),
        ("2026-11-26T10:53:38,5Z", datetime(2026, 11, 26, 10, 53, 38, 500000, tzinfo=UTC)),
        ("2026-11-26T12:53:38+02:00", datetime(2026, 11, 26, 10, 53, 38, tzinfo=UTC)),
        ("2026-11-26", datetime(2026, 11, 26, tzinfo=UTC)),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["-7d", "now", "2026-11-26T10:53:38.Z", "2026-11-26T10:53:38Zjunk"])
def test_parse_time_rejects(text):
    with pytest.raises(UsageError, match="invalid time"):
        parse_time(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_format_time_round_trips(moment):
    assert parse_time(format_time(moment)) == moment


@given(st.datetimes(), st.datetimes())
def test_formatted_times_order_as_times(first, second):
    # The index relies on this: stored timestamps compare correctly as strings.
    assert (format_time(first) < format_time(second)) == (first < second)


@given(st.text(max_size=40))
def test_parsers_raise_only_usage_errors(text):
    for parse in (parse_duration, parse_time, lambda t: parse_when(t, now=NOW)):
        try:
            parse(text)
        except UsageError:
            pass
