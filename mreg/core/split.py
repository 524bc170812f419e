"""Traffic splits: which share (an integer percentage) of an environment's traffic each version receives.

A split is a dict {VERSION: PCT}; a non-empty one always sums to 100 and
holds no zero. Changing it keeps the others' proportions: they share what is
left by the largest-remainder method (each takes the whole part of its exact
share, then the points still missing go to the largest fractions; between
equal fractions, to the newer version). A version whose share rounds to 0
leaves the split, and the caller is told which left.

Pure arithmetic on plain dicts, no I/O: the operations (mreg/core/ops/deploy.py)
and the property tests share it.
"""

from __future__ import annotations

from mreg.core.semver import Version, is_version
from mreg.errors import UsageError

TOTAL = 100


def ordered(split: dict[str, int]) -> dict[str, int]:
    """The split with the largest share first (between equal shares, the newer version first)."""
    rank = _rank(split)
    return dict(sorted(split.items(), key=lambda item: (-item[1], -rank[item[0]])))


def _rank(versions) -> dict[str, int]:
    """Each version's position in semver order, 0 the oldest."""
    return {v: i for i, v in enumerate(sorted(versions, key=Version.parse))}


def scale(shares: dict[str, int], total: int) -> tuple[dict[str, int], list[str]]:
    """`shares` rescaled to sum to `total`, in proportion; (the new shares, the versions that rounded to 0).

    Largest remainder first; ties to the newer version (semver).
    """
    if not shares or total <= 0:
        return {}, sorted(shares, key=Version.parse)
    whole = sum(shares.values())
    rank = _rank(shares)
    result = {v: share * total // whole for v, share in shares.items()}
    missing = total - sum(result.values())
    # Largest remainder first, then the newer version.
    by_remainder = sorted(shares, key=lambda v: (shares[v] * total % whole, rank[v]), reverse=True)
    for version in by_remainder[:missing]:
        result[version] += 1
    dropped = sorted((v for v, share in result.items() if share == 0), key=Version.parse)
    return {v: share for v, share in result.items() if share}, dropped


def with_share(split: dict[str, int], version: str, percent: int) -> tuple[dict[str, int], list[str]]:
    """`version` at `percent`, the others sharing the rest in proportion; (new split, versions that left).

    With no other version to take the rest, the split holds `version` alone at
    `percent`: a caller refuses that first (deploy_in does), since a split sums to 100.
    """
    check_percent(percent)
    others = {v: share for v, share in split.items() if v != version}
    rest, dropped = scale(others, TOTAL - percent)
    return {version: percent, **rest}, dropped


def without(split: dict[str, int], version: str) -> tuple[dict[str, int], list[str]]:
    """`split` with `version` gone, the others scaled up to 100 (empty when it was the last)."""
    others = {v: share for v, share in split.items() if v != version}
    return scale(others, TOTAL)


def check_percent(percent: object, what: str = "traffic") -> int:
    """A whole percentage 1-100, else UsageError saying so."""
    if isinstance(percent, bool) or not isinstance(percent, int):
        raise UsageError(f"{what}: {str(percent)[:40]!r} is not a whole percentage from 1 to 100")
    if not 1 <= percent <= TOTAL:
        raise UsageError(f"{what}: {percent} is outside 1-100")
    return percent


def parse_percent(text: str, what: str = "traffic") -> int:
    """A percentage as typed (`10`, `10%`); UsageError for anything that is not a whole number 1-100."""
    raw = text.strip().removesuffix("%") if isinstance(text, str) else ""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raise UsageError(f"{what}: {str(text)[:40]!r} is not a whole percentage from 1 to 100")
    return check_percent(int(raw), what)


def parse_split(text: str | dict) -> dict[str, int]:
    """`1.2.0=90,1.3.0=10` (or such a dict) as a split; UsageError naming the rule that broke.

    Each share is a whole percentage 1-100, no version twice, and together 100.
    """
    if isinstance(text, dict):
        items = [(str(k), v) for k, v in text.items()]
    else:
        items = []
        for part in (text or "").split(","):
            version, eq, share = part.strip().partition("=")
            if not eq or not version.strip():
                raise UsageError(f"split: {part.strip()[:60]!r} is not VERSION=PCT",
                                 hint="write the whole split, e.g. 1.2.0=90,1.3.0=10")
            items.append((version.strip(), share))
    split: dict[str, int] = {}
    for version, share in items:
        if not is_version(version):
            raise UsageError(f"split: {version[:60]!r} is not a version number such as 1.2.0")
        canonical = str(Version.parse(version))
        if canonical in split:
            raise UsageError(f"split: {canonical} is listed twice")
        split[canonical] = parse_percent(share, f"split: {canonical}") if isinstance(share, str) \
            else check_percent(share, f"split: {canonical}")
    if not split:
        raise UsageError("split: empty", hint="write the whole split, e.g. 1.2.0=90,1.3.0=10")
    total = sum(split.values())
    if total != TOTAL:
        raise UsageError(f"split: the shares sum to {total}, not 100")
    return split


def is_split(value: object) -> bool:
    """Whether `value` is a split as stored: empty, or {VERSION: 1-100} summing to 100."""
    from mreg.core.semver import is_canonical

    if not isinstance(value, dict):
        return False
    for version, share in value.items():
        if not is_canonical(version) or isinstance(share, bool) or not isinstance(share, int) \
                or not 1 <= share <= TOTAL:
            return False
    return not value or sum(value.values()) == TOTAL


def describe(split: dict[str, int]) -> str:
    """`1.3.0 90%, 1.2.0 10%` (largest share first), or `no traffic`."""
    if not split:
        return "no traffic"
    return ", ".join(f"{v} {share}%" for v, share in ordered(split).items())
