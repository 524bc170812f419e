"""Sorting version documents by a field, as `mreg search --sort FIELD` does.

A field is named as in the filter language (`query.py`), and its values are
read the way a filter reads them: versions by semver, times as times.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable

from mreg.core.query import _as_number, _as_time, _as_version, _getter, parse_field

_MISSING = (1,)


def _sort_rank_for(field_type: str) -> Callable[[object], "tuple | None"]:
    if field_type == "version":
        return lambda value: _ranked(_as_version(value), value)
    if field_type == "time":
        return lambda value: _ranked(_as_time(value), value)
    return _rank_any


def _ranked(key: object, value: object) -> tuple:
    # A value that does not parse sorts after those that do, as text.
    return (0, key) if key is not None else (1, str(value))


def _rank_any(value: object) -> tuple | None:
    """Numbers first (numerically), then booleans, then strings, then anything else."""
    number = _as_number(value)
    if number is not None:
        return None if number != number else (0, number)  # NaN has no place: last
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


def sort_key(field: str) -> Callable[[dict], tuple]:
    """A key for `sorted(docs, key=...)` ordering versions by `field`, ascending.

    Versions sort by semver, times as times, numbers numerically (a string
    that reads as a number counts as one), other strings as strings. Where a
    field mixes kinds, numbers come first, then booleans, then strings. A
    missing value sorts last; `sort_documents` keeps it last when descending too.
    """
    path = parse_field(field)
    get = _getter(path)
    rank = _sort_rank_for(path.type)

    def key(doc: dict) -> tuple:
        value = get(doc)
        if value is None:
            return _MISSING
        ranked = rank(value)
        return _MISSING if ranked is None else (0, *ranked)

    return key


def sort_documents(docs: Iterable[dict], field: str, descending: bool = False) -> list:
    """`docs` sorted by `field` (stable), versions lacking it last in either direction."""
    key = sort_key(field)
    # Sorting each kind of value (numbers, strings…) apart gives the order of
    # sort_key, and is several times faster: keys of one kind compare directly.
    groups: dict[int, list] = {}
    missing = []
    for doc in docs:
        doc_key = key(doc)
        if doc_key is _MISSING:
            missing.append(doc)
        else:
            _, rank, value = doc_key
            groups.setdefault(rank, []).append((value, doc))
    ordered = []
    for rank in sorted(groups, reverse=descending):
        group = groups[rank]
        # Python's sort stays stable with reverse=True: equal keys keep input order.
        group.sort(key=operator.itemgetter(0), reverse=descending)
        ordered.extend(doc for _, doc in group)
    return ordered + missing
