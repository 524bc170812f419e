"""Durations and points in time as users write them, and timestamps as mreg stores them.

Every time mreg stores is UTC, written by `format_time` as ISO 8601 with
microseconds and a `Z` (`2026-11-26T10:53:38.123456Z`): fixed width, so two
stored timestamps order the same way as strings and as times.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

from mreg.errors import UsageError

UTC = timezone.utc

# Units of a duration, largest first; a compound duration uses them in this order.
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:[0-9]+[wdhms])+", re.ASCII)
_DURATION_PART = re.compile(r"([0-9]+)([wdhms])", re.ASCII)
# Longer than this is a typo, and refusing it early keeps int() off huge digit runs.
_MAX_DURATION_TEXT = 64
# The largest span `timedelta` can hold; beyond it date arithmetic would overflow.
_MAX_DURATION_SECONDS = timedelta.max.total_seconds()

_RELATIVE = re.compile(r"-?((?:[0-9]+[wdhms])+)", re.ASCII)
# RFC 3339 / ISO 8601 as people type it: a date, optionally a time (seconds and
# fraction optional), optionally an offset. Written out here rather than left to
# datetime.fromisoformat, whose accepted forms differ between Python 3.10 and 3.11.
_ISO = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<zone_hours>[0-9]{2}):?(?P<zone_minutes>[0-9]{2}))?)?",
    re.ASCII,
)

_DURATION_HELP = "expected e.g. 90s, 45m, 12h, 30d, 2w"
_WHEN_HELP = (
    "expected an ISO date (2026-11-01), an ISO datetime (2026-11-01T10:00:00Z) "
    "or a relative time (-7d, -12h)"
)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC.

    For tests only: `MREG_NOW` (an ISO time such as 2026-11-01T12:00Z) stops
    the clock there, so that what depends on time passing (an approval that
    expires) can be tested without waiting.
    """
    fixed = os.environ.get("MREG_NOW")
    if fixed:
        return _parse_iso(fixed.strip(), fixed, "MREG_NOW (for tests) must be an ISO time such as 2026-11-01T12:00Z")
    return datetime.now(UTC)


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `90s`, `45m`, `12h`, `30d`, `2w` or `1h30m`.

    `0` alone means no time at all. In a compound duration each unit appears at
    most once, largest first (`1d12h`, not `12h1d`), which catches typos such as
    `1h1h`. Anything else raises UsageError.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if raw == "0":
        return 0.0
    if len(raw) <= _MAX_DURATION_TEXT and _DURATION.fullmatch(raw):
        seconds = 0
        previous_unit = float("inf")
        for amount, unit in _DURATION_PART.findall(raw):
            unit_seconds = _UNIT_SECONDS[unit]
            if unit_seconds >= previous_unit:
                break
            previous_unit = unit_seconds
            seconds += int(amount) * unit_seconds
        else:
            if seconds <= _MAX_DURATION_SECONDS:
                return float(seconds)
    raise UsageError(f"invalid duration {text!r}: {_DURATION_HELP}")


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A point in time as a user writes it for `--since` or a filter, in UTC.

    Accepts an ISO date (`2026-11-01`, midnight UTC), an ISO datetime with or
    without an offset (naive means UTC), or a relative time such as `-7d`,
    `-12h` or `2w`: that long before `now` (default: the current time). The
    leading `-` is optional because "7d" can only sensibly mean "7 days ago".
    """
    raw = text.strip() if isinstance(text, str) else ""
    relative = _RELATIVE.fullmatch(raw)
    if relative is not None:
        try:
            seconds = parse_duration(relative.group(1))
        except UsageError:
            raise UsageError(f"invalid time {text!r}: {_WHEN_HELP}") from None
        base = utc_now() if now is None else _as_utc(now)
        try:
            return base - timedelta(seconds=seconds)
        except OverflowError:
            raise UsageError(f"invalid time {text!r}: too far in the past") from None
    return _parse_iso(raw, text, _WHEN_HELP)


def parse_time(text: str) -> datetime:
    """Parse a timestamp as `format_time` writes it, or any ISO date or datetime, into UTC."""
    raw = text.strip() if isinstance(text, str) else ""
    return _parse_iso(raw, text, "expected ISO 8601 such as 2026-11-26T10:53:38.123456Z")


def format_time(moment: datetime) -> str:
    """`moment` as stored: ISO 8601 in UTC with microseconds and `Z`; naive means UTC."""
    utc = _as_utc(moment)
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000 on
    # every platform, and the fixed width is what keeps string order == time order.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def _as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _parse_iso(raw: str, text: object, expected: str) -> datetime:
    """Parse an ISO date or datetime (`raw`, already stripped) into an aware UTC datetime."""
    match = _ISO.fullmatch(raw)
    if match is None:
        raise UsageError(f"invalid time {text!r}: {expected}")
    part = match.groupdict()
    # Digits past microseconds are dropped: datetime cannot hold them.
    fraction = part["fraction"] or ""
    microsecond = int((fraction + "000000")[:6])
    try:
        zone = UTC
        if part["sign"] is not None:
            offset = timedelta(hours=int(part["zone_hours"]), minutes=int(part["zone_minutes"]))
            zone = timezone(-offset if part["sign"] == "-" else offset)
        moment = datetime(
            int(part["year"]),
            int(part["month"]),
            int(part["day"]),
            int(part["hour"] or 0),
            int(part["minute"] or 0),
            int(part["second"] or 0),
            microsecond,
            tzinfo=zone,
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        # datetime's own words are clear enough: "month must be in 1..12".
        raise UsageError(f"invalid time {text!r}: {exc}") from None
