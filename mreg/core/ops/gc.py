"""`gc`: delete objects no version references, safely beside concurrent writers.

How gc never deletes an object that a running register will reference:

1. gc holds the registry lock for its whole run, so no version is committed
   while it decides, and no second gc runs at once.
2. A register pins every object (appends its digest to `intake/ID/pins`,
   flocked for the register's whole life) *before* it looks whether the object
   exists. gc skips every object pinned by a live intake, however old.
3. A pin can land after gc read the pins. So gc first renames its candidates
   into its own trash folder, then reads the pins again and puts back any that
   are pinned now, and only then deletes. A register that looked before the
   rename is pinned before the second read; one that looked after the rename
   found no object and stored its own copy.
4. If gc dies with objects in its trash, the next gc puts them back first. A
   register that pinned one of them meanwhile finds it missing when it checks,
   under the lock, before committing; it puts the trash back itself (no gc can
   run while it holds the lock) and refuses only if an object is still missing
   (nothing is committed; run it again).
5. Only objects older than the grace period are candidates, as a last guard.

Nothing under `.mreg/` is trusted: `objects/` and `intake/` must be real
folders (a link there is an IntegrityError naming it), and links found in
place of a shard, an intake, a trash folder or an object are never entered
or followed. A dry run changes nothing at all: no intake of its own, no
recovery of a crashed gc's trash, no deletion.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import time

from mreg.core.artifact import referenced_objects
from mreg.core.fsutil import read_regular_file, real_folder, translate_os_errors
from mreg.core.ops.remove import drop_version
from mreg.core.repo import Repo
from mreg.core.store import Intake
from mreg.core.timeparse import format_time, parse_duration, parse_time
from mreg.errors import IntegrityError

_TRASH = "trash"
_HEX = frozenset("0123456789abcdef")


def _intake_state(path: str) -> str:
    """'live' if a writer holds the intake's pins, 'dead' if none does, 'new' if not yet claimed."""
    import fcntl

    try:
        # Never through a link, never blocking on a FIFO planted as `pins`.
        fd = os.open(os.path.join(path, "pins"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return "new"
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        return "dead"  # a link, not a pins file a writer made: nobody holds it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "live"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return "dead"
    finally:
        os.close(fd)


def _intakes(registry: Repo) -> list[str]:
    """Every intake folder; a link in place of `intake/` is refused, links inside it are passed over."""
    try:
        real_folder(registry.layout.intake)
        return [entry.path for entry in os.scandir(registry.layout.intake) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def live_pins(registry: Repo, skip: str | None = None) -> set[str]:
    """Digests pinned by writers that are still running (and by brand-new intakes)."""
    pinned: set[str] = set()
    for path in _intakes(registry):
        if path == skip or _intake_state(path) == "dead":
            continue
        try:
            data = read_regular_file(os.path.join(path, "pins"), f"pins file of {path}")
        except (FileNotFoundError, IntegrityError):
            continue  # gone, or not a pins file (a link, a FIFO): it protects nothing
        # Only whole lines: a pin being written right now is re-read in step 3.
        # latin-1 decodes any bytes: a pin that is not hex protects nothing, and crashes nothing.
        pinned.update(line.decode("latin-1") for line in data.split(b"\n")[:-1] if len(line) == 64)
    return pinned


def recover_trash(registry: Repo) -> int:
    """Put back objects a crashed gc had moved to its trash; return how many.

    Only regular files named like objects, in a trash that is a real folder,
    are moved: a planted link (as the trash, or in it) is never followed. A
    trash left holding anything else keeps its intake for inspection.
    """
    restored = 0
    for path in _intakes(registry):
        trash = os.path.join(path, _TRASH)
        try:
            if not stat.S_ISDIR(os.lstat(trash).st_mode) or _intake_state(path) == "live":
                continue
        except FileNotFoundError:
            continue
        for name in os.listdir(trash):
            entry = os.path.join(trash, name)
            if len(name) != 64 or not _HEX.issuperset(name) or not stat.S_ISREG(os.lstat(entry).st_mode):
                continue
            restored += registry.store.install_recovered(name, entry)
        # An empty trash is the crashed gc's last trace; without it the intake is cleaned up.
        with contextlib.suppress(OSError):
            os.rmdir(trash)
    return restored


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
    """Remove long-archived versions (if asked), then unreferenced objects older than `grace`.

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
    report = {"removed_versions": [], "objects": 0, "bytes": 0, "dry_run": dry_run, "temporary": 0,
              "pending": {"objects": 0, "bytes": 0, "collectable_at": None}}

    with registry.transaction() as tx, contextlib.ExitStack() as stack:
        # A dry run has no intake of its own (it moves nothing) and leaves a
        # crashed gc's trash where it is: it changes nothing at all.
        own = None if dry_run else stack.enter_context(Intake(registry.layout, doing="collect garbage"))
        own_path = own.path if own is not None else None
        with translate_os_errors("collect garbage"):
            real_folder(registry.layout.objects)
            if not dry_run:
                recover_trash(registry)
        models = [tx.model(name, create=True) for name in registry.model_names()]
        expired = []
        if archived_seconds is not None:
            expired = _archived_longer_than(models, registry.lifecycle.archived, now, archived_seconds)
        report["removed_versions"] = [f"{name}@{version}" for name, version in expired]
        doomed = set(expired)
        if not dry_run and doomed:
            for model in models:
                for name, version in sorted(doomed):
                    if name == model["name"]:
                        drop_version(tx, model, version, "gc",
                                     reason or f"archived for longer than {archived_text}")
            # The removals are committed before any object goes, so no index
            # ever refers to a deleted object, whenever gc dies.
            tx.commit()
        referenced = _referenced(registry, models, doomed if dry_run else set())
        pinned = live_pins(registry, skip=own_path)
        cutoff = now - grace_seconds
        with translate_os_errors("collect garbage"):
            candidates, pending = _candidates(registry, referenced | pinned, cutoff)
            report["pending"] = _pending(pending, grace_seconds)
            if dry_run:
                report["objects"] = len(candidates)
                report["bytes"] = sum(size for _, _, size in candidates)
            else:
                report["objects"], report["bytes"] = _take_away(registry, candidates, own, progress_for)
            report["temporary"] = _clean_dead_intakes(registry, cutoff, dry_run, skip=own_path)
    return report


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


def _take_away(registry: Repo, candidates: list[tuple[str, str, int]], own: Intake, progress_for) -> tuple[int, int]:
    """Delete the candidates by way of gc's trash (step 3 above); return the objects and bytes freed."""
    trash = os.path.join(own.path, _TRASH)
    os.mkdir(trash)
    advance = progress_for(sum(size for _, _, size in candidates)) if progress_for else None
    for hexdigest, path, size in candidates:
        os.rename(path, os.path.join(trash, hexdigest))
        if advance:
            advance(size)
    pinned_now = live_pins(registry, skip=own.path)
    objects = freed = 0
    for hexdigest, path, size in candidates:
        if hexdigest in pinned_now:
            os.rename(os.path.join(trash, hexdigest), path)
        else:
            objects += 1
            freed += size
    shutil.rmtree(trash)
    return objects, freed


def _clean_dead_intakes(registry: Repo, cutoff: float, dry_run: bool, skip: str | None) -> int:
    """Remove what crashed writers left behind, once older than the grace period."""
    cleaned = 0
    for path in _intakes(registry):
        state = "live" if path == skip else _intake_state(path)
        if state == "live":
            continue
        try:
            mtime = os.lstat(path).st_mtime
        except FileNotFoundError:
            continue
        # A folder without pins yet may be a writer between creating it and
        # locking its pins: give it a minute whatever --grace says.
        if mtime >= cutoff or (state == "new" and mtime >= time.time() - 60):
            continue
        if os.path.lexists(os.path.join(path, _TRASH)):
            continue  # recover_trash could not restore everything; keep it for inspection
        cleaned += 1
        if not dry_run:
            shutil.rmtree(path, ignore_errors=True)
    return cleaned
