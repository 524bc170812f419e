"""What keeps a version from being removed: the one place `rm`, gc and retention ask.

A version that something points at or serves from — an alias today — must not
vanish under it. `holds` returns each reason in words a user reads in an
error ("alias champion"); an empty list means the version may go. Reads the
model's index document only, so callers ask inside their transaction.
"""

from __future__ import annotations


def aliases_of(model: dict, version: str) -> list[str]:
    """The aliases that point at `version`, in name order."""
    return sorted(alias for alias, target in (model.get("aliases") or {}).items() if target == version)


def holds(model: dict, version: str) -> list[str]:
    """Why `version` of `model` may not be removed; empty when nothing holds it."""
    return [f"alias {alias}" for alias in aliases_of(model, version)]
