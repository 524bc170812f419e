"""Semantic versions (semver.org 2.0): parsing, ordering and bumping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from mreg.errors import UsageError

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"$"
)
BUMPS = ("major", "minor", "patch")


@total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed semantic version; ordering follows semver precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Version":
        """Parse `1.2.3`, `v1.2.3` or `1.2.3-rc.1`; raise UsageError otherwise.

        Build metadata (`+abc`) is refused: semver ignores it in comparisons,
        so two versions differing only there would collide in the index.
        """
        raw = text.strip()
        if raw[:1] in ("v", "V"):
            raw = raw[1:]
        match = _SEMVER.match(raw)
        if match is None or len(raw) > 128:
            raise UsageError(
                f"invalid version {text!r}: expected MAJOR.MINOR.PATCH, e.g. 1.2.0"
            )
        major, minor, patch, pre = match.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text

    def sort_key(self) -> tuple:
        """A tuple that orders versions by semver precedence."""
        # A release sorts after its pre-releases; numeric identifiers sort
        # numerically and before alphanumeric ones (semver §11).
        if not self.prerelease:
            pre: tuple = ((2,),)
        else:
            pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key() == other.sort_key()

    def __hash__(self) -> int:
        return hash(self.sort_key())

    def bump(self, part: str) -> "Version":
        """The next version after this one, raising `major`, `minor` or `patch`."""
        # A prerelease of the very version a bump would reach is released by
        # it (2.0.0-rc.1 → 2.0.0 for major, 1.2.0-beta → 1.2.0 for minor), as npm does.
        if part == "major":
            if self.prerelease and self.minor == 0 and self.patch == 0:
                return Version(self.major, 0, 0)
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            if self.prerelease and self.patch == 0:
                return Version(self.major, self.minor, 0)
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            if self.prerelease:  # 1.2.0-rc.1 → 1.2.0, as npm and cargo do
                return Version(self.major, self.minor, self.patch)
            return Version(self.major, self.minor, self.patch + 1)
        raise UsageError(f"invalid bump {part!r}: expected one of {', '.join(BUMPS)}")


def is_version(text: str) -> bool:
    """True when `text` parses as a semantic version (with or without `v`)."""
    try:
        Version.parse(text)
    except UsageError:
        return False
    return True


def is_canonical(text: str) -> bool:
    """True when `text` is a version as the index writes it: `1.2.3` or `1.2.3-rc.1`, no `v`, no spaces."""
    return len(text) <= 128 and _SEMVER.fullmatch(text) is not None
