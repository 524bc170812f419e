"""`update`: merge metadata changes into a version; the artifact never changes."""

from __future__ import annotations

from mreg.core import metadata as md
from mreg.core import policy
from mreg.core.repo import Repo, document
from mreg.core.text import check_text
from mreg.core.version import METADATA_FIELDS, TEXT_FIELDS
from mreg.core.wording import name as spelled
from mreg.errors import UsageError

_UNSETTABLE_TEXT = TEXT_FIELDS
_MISSING = object()


def _parse_unset(key: str) -> tuple[str, str | None]:
    if key in _UNSETTABLE_TEXT:
        return key, None
    group, dot, name = key.partition(".")
    if group in md.SECTIONS and dot and name:
        return group, name
    raise UsageError(
        f"cannot unset {key!r}: expected metrics.K, params.K, tags.K, datasets.K, description or framework"
    )


def update(registry: Repo, ref: str, *, metrics=(), params=(), tags=(), description: str | None = None,
           framework: str | None = None, unset=(), reason: str = "") -> dict:
    """Apply `-m/-p/-t`, `--description`, `--framework` and `--unset`; record what changed (old → new)."""
    # (group, key, new value or _MISSING to unset)
    wanted: list[tuple[str, str | None, object]] = list(md.option_pairs(metrics, params, tags))
    if description is not None:
        wanted.append(("description", None, md.check_value(check_text(description, spelled("description")), "description")))
    if framework is not None:
        wanted.append(("framework", None, md.check_value(check_text(framework, spelled("framework")), "framework")))
    for key in unset:
        group, name = _parse_unset(key)
        wanted.append((group, name, _MISSING))
    if not wanted:
        given = ", ".join(spelled(p) for p in ("metrics", "params", "tags", "description", "framework"))
        raise UsageError("nothing to update", hint=f"pass {given} or {spelled('unset')}")
    set_keys = {(group, key) for group, key, value in wanted if value is not _MISSING}
    for group, key, value in wanted:
        if value is _MISSING and (group, key) in set_keys:
            label = group if key is None else f"{group}.{key}"
            raise UsageError(f"{label} is both set and unset: pass one or the other")

    with registry.transaction() as tx:
        model, version = tx.lookup(ref)
        record = model["versions"][version]
        changes: dict[str, list] = {}
        # What replay applies: [group, key or None, new value] set, [group, key] unset.
        applied: dict[str, list] = {"set": [], "unset": []}
        for group, key, value in wanted:
            label = group if key is None else f"{group}.{key}"
            if key is None:
                old = record.get(group) or ""
                new = "" if value is _MISSING else value
                if old != new:
                    record[group] = new
                    changes[label] = [old or None, new or None]
                    applied["set"].append([group, None, new])
                continue
            table = record.setdefault(group, {})
            old = table.get(key, _MISSING)
            if value is _MISSING:
                if old is _MISSING:
                    raise UsageError(f"{model['name']}@{version} has no {label} to unset")
                del table[key]
                changes[label] = [old, None]
                applied["unset"].append([group, key])
            elif old is _MISSING or old != value or type(old) is not type(value):
                table[key] = value
                changes[label] = [None if old is _MISSING else old, value]
                applied["set"].append([group, key, value])
        md.check_size({k: record.get(k) for k in METADATA_FIELDS})
        if changes:
            tx.record(model, "update", version, source=record["stage"], target=record["stage"], reason=reason,
                      details={"changes": changes, **applied})
            # What was approved is no longer what would enter the stage.
            unbound = policy.to_void_after_update(model, version)
            if unbound:
                why = "metadata changed by update"
                policy.void(model, unbound, tx.now, why)
                tx.record(model, "void", version, source=record["stage"], target=record["stage"], reason=why,
                          details={"ids": unbound})
    return document(model["name"], record)
