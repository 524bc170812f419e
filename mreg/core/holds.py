"""Whether a version may be removed: the one place rm, gc and retention ask.

`holds(model, version)` lists the reasons a version must stay (an alias that
points at it, traffic it serves, approvals pending for it), each in words a
user reads; an empty list means nothing holds it.
"""

from __future__ import annotations


def aliases_of(model: dict, version: str) -> list[str]:
    """The aliases that point at `version`, in name order."""
    return sorted(alias for alias, target in (model.get("aliases") or {}).items() if target == version)


def holds(model: dict, version: str) -> list[str]:
    """Why `version` of `model` (an index document) must be kept; [] when it may be removed."""
    from mreg.core import policy
    from mreg.core.timeparse import format_time, utc_now

    reasons: list[str] = []
    record = model["versions"].get(version)
    if record is None:
        return reasons
    reasons += [f"alias {alias}" for alias in aliases_of(model, version)]
    for env, entry in sorted((model.get("deployments") or {}).items()):
        share = entry["traffic"].get(version)
        if share:
            reasons.append(f"{share}% of traffic in {env}")

    def entered(kind: str, target: str) -> bool:
        if kind == "env":
            return version in model.get("deployments", {}).get(target, {}).get("traffic", {})
        return record["stage"] == target

    # Someone reviewed this version for a stage it has not reached yet: removing
    # it would throw their review away.
    now = format_time(utc_now())
    reasons += [f"approvals pending for {target}" for target in policy.pending(model, version, now, entered)]
    return reasons
