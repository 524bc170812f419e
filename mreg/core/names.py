"""Model names and references."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mreg.errors import UsageError

MAX_NAME_LENGTH = 200
_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_LATEST = "latest"


def validate_name(name: str) -> str:
    """Return `name` if it is a valid model name, else raise UsageError saying which rule broke."""
    if not name:
        raise UsageError("invalid model name '': a name cannot be empty")
    shown = name if len(name) <= 60 else name[:57] + "..."
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"invalid model name {shown!r}: longer than {MAX_NAME_LENGTH} characters ({len(name)})"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UsageError(f"invalid model name {shown!r}: control characters are not allowed")
    if name.startswith("/"):
        raise UsageError(f"invalid model name {shown!r}: a name cannot be an absolute path")
    segments = name.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise UsageError(f"invalid model name {shown!r}: '.' and '..' segments are not allowed")
    if any(segment == "" for segment in segments):
        raise UsageError(f"invalid model name {shown!r}: empty segment (leading, trailing or double '/')")
    if name != name.lower() and all(_SEGMENT.match(s) for s in name.lower().split("/")):
        raise UsageError(
            f"invalid model name {shown!r}: upper case is not allowed",
            hint=f"use {name.lower()!r}",
        )
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise UsageError(
                f"invalid model name {shown!r}: segment {segment[:60]!r} must start with a-z or 0-9 "
                "and hold only a-z, 0-9, '.', '_' and '-'"
            )
    return name


@dataclass(frozen=True)
class Reference:
    """A parsed `NAME@SELECTOR`; `selector` is a version, `latest`, a stage, or None (bare name)."""

    name: str
    selector: str | None

    def __str__(self) -> str:
        return self.name if self.selector is None else f"{self.name}@{self.selector}"

    @property
    def is_latest(self) -> bool:
        return self.selector in (None, _LATEST)


def parse_reference(text: str) -> Reference:
    """Split `NAME@SELECTOR` and validate the name; the selector is resolved against the index later."""
    name, at, selector = text.partition("@")
    validate_name(name)
    if at and not selector:
        raise UsageError(f"invalid reference {text!r}: nothing after '@'", hint="write NAME@VERSION, NAME@latest, NAME@STAGE or NAME@ALIAS")
    return Reference(name, selector if at else None)


# An alias is a named pointer to one version (`sentiment@champion`). It shares
# the selector's place with versions, `latest` and stages, so it can be none of them.
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_-]*\Z", re.ASCII)
MAX_ALIAS_LENGTH = 64


def alias_fault(alias: object, stages=()) -> str | None:
    """Which rule an alias name breaks (None for a good one); `stages` are the lifecycle's stage names."""
    from mreg.core.semver import is_version

    if not isinstance(alias, str) or not alias:
        return "an alias cannot be empty"
    if len(alias) > MAX_ALIAS_LENGTH:
        return f"longer than {MAX_ALIAS_LENGTH} characters ({len(alias)})"
    if is_version(alias):
        return "it is a version number (a reference would read it as one)"
    if alias == _LATEST:
        return "'latest' always names the highest version"
    if ALIAS_PATTERN.match(alias) is None:
        return "it must start with a-z and hold only a-z, 0-9, '_' and '-'"
    if alias in stages:
        return "it is a stage of the lifecycle (a reference would read it as one)"
    return None


def validate_alias(alias: str, stages=()) -> str:
    """Return `alias` if it may name a version, else raise UsageError saying which rule broke."""
    fault = alias_fault(alias, stages)
    if fault:
        shown = alias if len(alias) <= 60 else alias[:57] + "..."
        raise UsageError(f"invalid alias {shown!r}: {fault}", hint="e.g. champion, challenger, shadow")
    return alias
