"""`gc`: delete objects no version references, safely beside concurrent writers.

The protocol that keeps gc away from the objects a running register is about
to reference (intakes, pins, gc's trash) is in `mreg/core/pins.py`.

A dry run changes nothing at all: no intake of its own, no recovery of a
crashed gc's trash, no deletion.
"""

from __future__ import annotations

import contextlib
import os
import time

from mreg.core.artifact import referenced_objects
from mreg.core.fsutil import real_folder, translate_os_errors
from mreg.core.holds import holds
from mreg.core.ops.remove import drop_version
from mreg.core.repo import Repo
from mreg.core.semver import Version
from mreg.core.pins import Intake, clean_dead_intakes, live_pins, recover_trash, take_away
from mreg.core.timeparse import format_time, parse_duration, parse_time
from mreg.errors import IntegrityError

def _referenced(registry: Repo, models: list[dict], skip: set[tuple[str, str]]) -> set[str]:
    referenced: set[str] = set()
    for model in models:
        for version, record in model["versions"].items():
            if (model["name"], version) in skip:
                continue
            try:
                referenced.update(referenced_objects(registry.store, record["digest"], record["kind"]))
            except IntegrityError as exc:
                raise IntegrityError(
                    f"{model['name']}@{version}: {exc.message}; gc stops rather than guess what it references",
                    hint="run `mreg verify` to see the damage",
                ) from None
    return referenced


def gc(registry: Repo, *, grace: str | None = None, archived_older_than: str | None = None,
       dry_run: bool = False, reason: str = "", progress_for=None) -> dict:
    """Remove long-archived versions (if asked) and those the `[[retention]]` rules match, then
    unreferenced objects older than `grace`.

    Each removal is a `gc` event recording the rule that removed it; the
    report's `removals` lists them (name, version, stage, rule, reason).
    An archived version something holds (an alias, traffic, pending approvals)
    is kept and listed in the report's `held_versions`, with the reasons.
    `progress_for(total_bytes)` may return a callback told the size of each
    object as it is taken away (the command line draws a bar with it).
    The report's `pending` counts the unreferenced objects still inside the
    grace period, and when the last of them becomes collectable (UTC, or None).
    """
    config = registry.config
    grace_seconds = parse_duration(grace if grace is not None else config.gc_grace)
    archived_text = archived_older_than if archived_older_than is not None else config.gc_archived_older_than
    archived_seconds = parse_duration(archived_text) if archived_text else None
    now = time.time()
    report = {"removed_versions": [], "removals": [], "held_versions": [], "objects": 0, "bytes": 0,
              "dry_run": dry_run, "temporary": 0,
              "pending": {"objects": 0, "bytes": 0, "collectable_at": None}}

    with registry.transaction() as tx, contextlib.ExitStack() as stack:
        # A dry run has no intake of its own (it moves nothing) and leaves a
        # crashed gc's trash where it is: it changes nothing at all.
        own = None if dry_run else stack.enter_context(Intake(registry.layout, doing="collect garbage"))
        own_path = own.path if own is not None else None
        with translate_os_errors("collect garbage"):
            real_folder(registry.layout.objects)
            if not dry_run:
                recover_trash(registry.layout, registry.store)
        models = [tx.model(name, create=True) for name in registry.model_names()]
        removals, held = _removals(registry, models, now, archived_text, archived_seconds)
        report["removed_versions"] = [f"{r['name']}@{r['version']}" for r in removals]
        report["removals"] = removals
        report["held_versions"] = held
        doomed = {(r["name"], r["version"]) for r in removals}
        if not dry_run and doomed:
            by_name = {model["name"]: model for model in models}
            for removal in removals:
                drop_version(tx, by_name[removal["name"]], removal["version"], "gc", reason or removal["reason"],
                             extra={"rule": removal["rule"]})
            # The removals are committed before any object goes, so no index
            # ever refers to a deleted object, whenever gc dies.
            tx.commit()
        referenced = _referenced(registry, models, doomed if dry_run else set())
        pinned = live_pins(registry.layout, skip=own_path)
        cutoff = now - grace_seconds
        with translate_os_errors("collect garbage"):
            candidates, pending = _candidates(registry, referenced | pinned, cutoff)
            report["pending"] = _pending(pending, grace_seconds)
            if dry_run:
                report["objects"] = len(candidates)
                report["bytes"] = sum(size for _, _, size in candidates)
            else:
                report["objects"], report["bytes"] = take_away(registry.layout, candidates, own, progress_for)
            report["temporary"] = clean_dead_intakes(registry.layout, cutoff, dry_run, skip=own_path)
    return report


def _removals(registry: Repo, models: list[dict], now: float, archived_text: str,
              archived_seconds: float | None) -> tuple[list[dict], list[dict]]:
    """The versions gc removes before collecting objects, each with the rule that removes it:
    those archived longer than `--archived-older-than`, then those the `[[retention]]` rules
    match, less every version something protects (mreg/core/retention.py `protection`);
    and the archived ones kept because something holds them, with the reasons."""
    from mreg.core.retention import matching, protection

    lifecycle = registry.lifecycle
    removals, held = [], []
    expired = set()
    if archived_seconds is not None:
        expired = set(_archived_longer_than(models, lifecycle.archived, now, archived_seconds))
    rules = registry.config.retention
    for model in models:
        chosen: dict[str, dict] = {}
        for name, version in sorted(expired):
            if name != model["name"]:
                continue
            reasons = holds(model, version)
            if reasons:
                held.append({"name": name, "version": version, "holds": reasons})
            else:
                chosen[version] = {"name": name, "version": version, "stage": model["versions"][version]["stage"],
                                   "rule": {"archived_older_than": archived_text},
                                   "reason": f"archived for longer than {archived_text}"}
        for removal in matching(rules, model, now) if rules else ():
            if removal.version in chosen or protection(model, removal.version, lifecycle.exclusive):
                continue
            chosen[removal.version] = {"name": removal.name, "version": removal.version, "stage": removal.stage,
                                       "rule": removal.rule.document(),
                                       "reason": f"{removal.rule.describe()}: {removal.why}"}
        removals += [chosen[v] for v in sorted(chosen, key=Version.parse)]
    return removals, held


def _archived_longer_than(models: list[dict], archived: str, now: float, seconds: float) -> list[tuple[str, str]]:
    """(name, version) of every version that has sat in the `archived` stage for more than `seconds`."""
    expired = []
    for model in models:
        for version, record in sorted(model["versions"].items()):
            changed = parse_time(record.get("stage_changed_at") or record["created_at"]).timestamp()
            if record["stage"] == archived and now - changed > seconds:
                expired.append((model["name"], version))
    return expired


def _candidates(registry: Repo, keep: set[str], cutoff: float) -> tuple[list, list]:
    """(hexdigest, path, size) of every object not in `keep` and last changed before `cutoff`;
    and (size, mtime) of those not in `keep` that changed later (still in the grace period)."""
    candidates, pending = [], []
    for hexdigest, path in registry.store.iter_objects():
        if hexdigest in keep:
            continue
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if info.st_mtime < cutoff:
            candidates.append((hexdigest, path, info.st_size))
        else:
            pending.append((info.st_size, info.st_mtime))
    return candidates, pending


def _pending(pending: list[tuple[int, float]], grace_seconds: float) -> dict:
    """What a later gc will free: objects, bytes, and when the youngest is old enough."""
    when = None
    if pending:
        from datetime import UTC, datetime

        when = format_time(datetime.fromtimestamp(max(mtime for _, mtime in pending) + grace_seconds, UTC))
    return {"objects": len(pending), "bytes": sum(size for size, _ in pending), "collectable_at": when}
