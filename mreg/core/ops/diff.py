"""`diff`: what changed from one version to another, as plain data.

Metadata comes from the index; for two directory artifacts the files come from
their manifests (each read and verified, never the files' own bytes), so a diff
costs two small reads however large the models are.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from mreg.core.metadata import SECTIONS
from mreg.core.version import DIFF_FIELDS, DIFF_SUMMARY
from mreg.core.repo import Repo, document

# Top-level fields compared one to one, in the order people read them.
FIELDS = DIFF_FIELDS
# The key-value SECTIONS are compared key by key.


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def delta(left: object, right: object) -> int | float | None:
    """right - left for two numbers, without binary noise (0.93 - 0.9 is 0.03); else None."""
    if not (_is_number(left) and _is_number(right)):
        return None
    if isinstance(left, int) and isinstance(right, int):
        return right - left
    try:
        return float(Decimal(repr(right)) - Decimal(repr(left)))
    except (InvalidOperation, ValueError):  # inf or nan never get this far (metadata is finite)
        return None


def _change(left: object, right: object, in_left: bool, in_right: bool) -> str:
    if not in_left:
        return "added"
    if not in_right:
        return "removed"
    return "unchanged" if left == right and type(left) is type(right) else "changed"


def compare_section(left: dict | None, right: dict | None) -> dict[str, dict]:
    """Every key of either side: {key: {left, right, change[, delta]}}, keys in order of first appearance."""
    left, right = left or {}, right or {}
    result: dict[str, dict] = {}
    for key in list(left) + [k for k in right if k not in left]:
        a, b = left.get(key), right.get(key)
        entry = {"left": a, "right": b, "change": _change(a, b, key in left, key in right)}
        change = delta(a, b)
        if change is not None:
            entry["delta"] = change
        result[key] = entry
    return result


def _listing(registry: Repo, doc: dict) -> dict[str, dict]:
    from mreg.core.artifact import load_manifest
    from mreg.core.store import parse_digest

    entries = load_manifest(registry.store, parse_digest(doc["digest"]))
    return {e["path"]: e for e in entries}


def compare_files(left: dict[str, dict], right: dict[str, dict]) -> dict:
    """Files added, removed and changed between two manifests (paths sorted)."""
    added = [{"path": p, "digest": right[p]["digest"], "size": right[p].get("size")} for p in sorted(right.keys() - left.keys())]
    removed = [{"path": p, "digest": left[p]["digest"], "size": left[p].get("size")} for p in sorted(left.keys() - right.keys())]
    changed = []
    unchanged = 0
    for path in sorted(left.keys() & right.keys()):
        a, b = left[path], right[path]
        if a["digest"] == b["digest"] and bool(a.get("executable")) == bool(b.get("executable")):
            unchanged += 1
            continue
        changed.append({
            "path": path,
            "left_digest": a["digest"], "right_digest": b["digest"],
            "left_size": a.get("size"), "right_size": b.get("size"),
            "executable_changed": bool(a.get("executable")) != bool(b.get("executable")),
        })
    return {"added": added, "removed": removed, "changed": changed, "unchanged": unchanged}


def _summary(doc: dict) -> dict:
    return {key: doc.get(key) for key in DIFF_SUMMARY}


def diff(registry: Repo, left_ref: str, right_ref: str) -> dict:
    """Compare two versions (of one model or of two): what `mreg diff` shows and prints as JSON."""
    model, version = registry.lookup(left_ref)
    left = document(model["name"], model["versions"][version])
    model, version = registry.lookup(right_ref)
    right = document(model["name"], model["versions"][version])
    return compare_documents(left, right, lambda doc: _listing(registry, doc))


def compare_documents(left: dict, right: dict, listing: Callable[[dict], dict[str, dict]]) -> dict:
    """`diff` of two version documents already read; `listing(document)` gives a directory's manifest by path.

    A reader comparing many versions (the web view) passes its own `listing`
    to read each manifest once.
    """
    fields = {}
    for key in FIELDS:
        a, b = left.get(key), right.get(key)
        if a != b:
            entry = {"left": a, "right": b}
            change = delta(a, b)
            if change is not None:
                entry["delta"] = change
            fields[key] = entry

    files = None
    if left["kind"] == "directory" and right["kind"] == "directory":
        if left["digest"] == right["digest"]:
            files = {"added": [], "removed": [], "changed": [], "unchanged": len(listing(left))}
        else:
            files = compare_files(listing(left), listing(right))

    return {
        "left": _summary(left),
        "right": _summary(right),
        "same_artifact": left["digest"] == right["digest"],
        "fields": fields,
        **{section: compare_section(left.get(section), right.get(section)) for section in SECTIONS},
        "files": files,
    }
