"""Whether a version may be removed: the one place rm, gc and retention ask.

`holds(model, version)` lists the reasons a version must stay (an alias that
points at it, traffic it serves, approvals pending for it), each in words a
user reads; an empty list means nothing holds it.
"""

from __future__ import annotations


def holds(model: dict, version: str) -> list[str]:
    """Why `version` of `model` (its index document) may not be removed; [] when nothing holds it."""
    reasons = []
    for env, entry in sorted((model.get("deployments") or {}).items()):
        share = entry["traffic"].get(version)
        if share:
            reasons.append(f"{share}% of traffic in {env}")
    return reasons
