"""Per-model summaries for `list` (`cache/models.json`): one small entry per model, re-derived when its index changed."""

from __future__ import annotations

import os
import time

from mreg.core.cache.files import RACY_NS, file_identity, read_cache, read_index, write_cache
from mreg.core.layout import Layout

SUMMARY_FILE = "models.json"


def summarize(model: dict) -> dict | None:
    """What `list` needs of one model; None for a model without versions."""
    from mreg.core.semver import Version

    versions = model["versions"]
    if not versions:
        return None
    first_in_stage: dict[str, str] = {}
    for version, record in versions.items():
        first_in_stage.setdefault(record["stage"], version)
    return {
        "versions": len(versions),
        "latest": max(versions, key=Version.parse),
        "first_in_stage": first_in_stage,
        "updated_at": max(max(r.get("stage_changed_at") or r["created_at"], r["created_at"]) for r in versions.values()),
    }


def _well_formed(summary: object) -> bool:
    from mreg.core.schema import summary_fault

    return summary_fault(summary) is None


def _derive(layout: Layout, name: str) -> tuple[list[int], dict | None] | None:
    """(identity, summary) of a model's index; None if the model is gone."""
    read = read_index(layout, name)
    if read is None:
        return None
    identity, model = read
    return identity, summarize(model)


def model_summaries(layout: Layout, names: list[str]) -> list[tuple[str, dict]]:
    """(name, summary) of every model in `names` that has versions, in that order.

    Raises IntegrityError for a damaged index, exactly as reading it would.
    """
    path = os.path.join(layout.cache, SUMMARY_FILE)
    cached = read_cache(path)
    entries: dict = {}
    changed = len(cached) != len(names)
    now = time.time_ns()
    result = []
    for name in names:
        entry = cached.get(name)
        summary = None
        fresh = False
        if isinstance(entry, dict):
            try:
                info = os.stat(layout.index_path(name))
            except (FileNotFoundError, NotADirectoryError):
                changed = True
                continue
            identity = file_identity(info)
            if (entry.get("identity") == identity and isinstance(entry.get("derived_ns"), int)
                    and entry["derived_ns"] - info.st_mtime_ns > RACY_NS
                    and "summary" in entry and _well_formed(entry["summary"])):
                summary = entry["summary"]
                fresh = True
        if not fresh:
            derived = _derive(layout, name)
            changed = True
            if derived is None:
                continue
            identity, summary = derived
            entry = {"identity": identity, "derived_ns": now, "summary": summary}
        entries[name] = entry
        if summary is not None:
            result.append((name, summary))
    if changed:
        write_cache(path, entries)
    return result
