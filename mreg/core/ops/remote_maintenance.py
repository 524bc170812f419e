"""`verify --remote` and `gc --remote`: checking and cleaning a remote registry in place.

verify reads every model's log (checking the schema and the hash chain of
every entry), rebuilds each index from it, checks each snapshot against the
log replayed to its entry, and re-hashes every object a version names,
streamed through a temporary file.

gc runs in two phases, safe beside running pushers:
1. mark: the objects no version references are written down in a mark
   (`gc/marks/TIME-ID.json`); nothing is deleted.
2. sweep (a later run, at least the grace period after a mark): with
   `gc/sweep.json` created exclusively (one sweeper at a time), the claims of
   running pushes (`pushes/ID.json`, made before a push looks at any object)
   are read, the logs are read again, and only objects marked long enough
   ago, still unreferenced and claimed by no push are deleted. A push that
   made its claim after the sweep began waits for the sweep to end before it
   looks at objects, so it sees the deletions and uploads what it needs.
Each run also removes what killed uploads left (temporary keys, unfinished
multipart uploads) once it is older than the grace period: a younger one may
be a running push's.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid

from mreg.core.ops.remotes import chosen_remote
from mreg.core.ops.sync import connect, remote_models
from mreg.core.remote.format import (GENESIS, MAX_ENTRY, MAX_SMALL, decode, encode, log_key, object_key, parse_entry)
from mreg.core.repo import Repo
from mreg.errors import IntegrityError

_HEX = frozenset("0123456789abcdef")
CLAIM_MAX_AGE = 7 * 86400  # a claim older than this belongs to a push that died


def _log(storage, name: str, last: int) -> tuple[list[dict], dict[int, int]]:
    """Every event of `name`'s log (every entry checked), and how many events entries 1…n hold, by n."""
    events: list[dict] = []
    ends: dict[int, int] = {}
    prev = GENESIS
    for number in range(1, last + 1):
        data = storage.read(log_key(name, number), MAX_ENTRY)
        if data is None:
            raise IntegrityError(f"entry {number} of {name} is missing on {storage.url} (entry {last} exists)")
        found = parse_entry(data, f"{log_key(name, number)} on {storage.url}", name, number, prev, len(events))
        events += found
        ends[number] = len(events)
        prev = found[-1]["hash"]
    return events, ends


def _rebuild(storage, name: str, events: list[dict]) -> dict:
    from mreg.core import replay

    try:
        return replay.rebuild(name, events)
    except replay.NotReplayable as exc:
        raise IntegrityError(f"the log of {name} on {storage.url} cannot be replayed: {exc}") from None


def _models(storage) -> dict[str, dict]:
    """Every model's index, rebuilt from its log on the remote (every entry checked)."""
    return {name: _rebuild(storage, name, _log(storage, name, last)[0])
            for name, last in sorted(remote_models(storage).items())}


def _snapshot_problems(storage) -> tuple[dict[str, dict], list[dict]]:
    """Every model's index rebuilt from its whole log, and each snapshot that is not that replay at its entry."""
    from mreg.core import replay
    from mreg.core.ops.sync import remote_listing
    from mreg.core.remote.snapshots import read_snapshot, snapshot_key

    logs, snapshots = remote_listing(storage)
    models: dict[str, dict] = {}
    problems: list[dict] = []
    for name, last in sorted(logs.items()):
        events, ends = _log(storage, name, last)
        models[name] = _rebuild(storage, name, events)
        for number in sorted(snapshots.get(name, ())):
            key = snapshot_key(name, number)
            fault = None
            if number > last:
                fault = f"it is at entry {number}, past the log's last entry ({last})"
            else:
                try:
                    held = read_snapshot(storage, name, number)
                except IntegrityError as exc:
                    fault = exc.message
                else:
                    found = replay.differences(held, _rebuild(storage, name, events[:ends[number]]))
                    if found:
                        fault = f"it is not the log replayed to entry {number}: {found[0]}"
            if fault:
                problems.append({"snapshot": key, "model": name, "problem": f"snapshot of {name} ignored by "
                                 f"readers: {fault}", "versions": []})
    for name in sorted(set(snapshots) - set(logs)):
        for number in sorted(snapshots[name]):
            problems.append({"snapshot": snapshot_key(name, number), "model": name,
                             "problem": f"snapshot of {name} ignored by readers: the remote has no log of {name}",
                             "versions": []})
    return models, problems


def _hash_remote(storage, hexdigest: str, keep: bool = False) -> tuple[str | None, bytes | None, int]:
    """(problem or None, its bytes when `keep` and small, size) of one remote object, re-hashed."""
    from mreg.core.copying import hash_fd
    from mreg.errors import NotFoundError

    with tempfile.TemporaryDirectory(prefix="mreg-verify-") as folder:
        path = os.path.join(folder, "object")
        try:
            storage.get_file(object_key(hexdigest), path)
        except NotFoundError:
            return "missing", None, 0
        with open(path, "rb") as handle:
            actual, size = hash_fd(handle.fileno())
            if actual != hexdigest:
                return "corrupt (bytes do not match the digest)", None, 0
            handle.seek(0)
            small = handle.read(MAX_ENTRY + 1) if keep and size <= MAX_ENTRY else None
    return None, small, size


def verify_remote(repo: Repo, remote: str | None = None) -> dict:
    import json

    from mreg.core.schema import manifest_fault
    from mreg.core.store import parse_digest

    name, settings = chosen_remote(repo, remote)
    storage = connect(settings["url"], settings["options"])
    models, problems = _snapshot_problems(storage)
    users: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    versions = 0
    for model in models.values():
        for version, record in model["versions"].items():
            versions += 1
            root = parse_digest(record["digest"])
            users.setdefault(root, []).append(f"{model['name']}@{version}")
            kinds[root] = record["kind"] if kinds.get(root) != "directory" else "directory"
    checked, size_total = 0, 0
    queue = list(users)
    seen = set()
    while queue:
        hexdigest = queue.pop()
        if hexdigest in seen:
            continue
        seen.add(hexdigest)
        problem, data, size = _hash_remote(storage, hexdigest, kinds.get(hexdigest) == "directory")
        checked += 1
        size_total += size
        if problem:
            problems.append({"object": hexdigest, "problem": problem, "versions": sorted(users.get(hexdigest, []))})
            continue
        if kinds.get(hexdigest) == "directory":
            try:
                document = json.loads(data) if data is not None else None
            except (ValueError, RecursionError):
                document = None
            fault = manifest_fault(document, 1) if document is not None else "not valid JSON"
            if fault:
                problems.append({"object": hexdigest, "problem": f"not a valid manifest: {fault}",
                                 "versions": sorted(users[hexdigest])})
                continue
            for entry in document["files"]:
                child = parse_digest(entry["digest"])
                users.setdefault(child, []).extend(users[hexdigest])
                queue.append(child)
    return {"ok": not problems, "remote": name,
            "checked": {"versions": versions, "objects": checked, "bytes": size_total}, "problems": problems}


def _referenced(storage, models: dict[str, dict]) -> set[str]:
    import json

    from mreg.core.store import parse_digest

    referenced: set[str] = set()
    for model in models.values():
        for record in model["versions"].values():
            root = parse_digest(record["digest"])
            referenced.add(root)
            if record["kind"] == "directory":
                data = storage.read(object_key(root), MAX_ENTRY)
                try:
                    files = json.loads(data)["files"] if data is not None else []
                    referenced.update(parse_digest(e["digest"]) for e in files)
                except (ValueError, KeyError, TypeError, RecursionError):
                    raise IntegrityError(f"manifest {root[:12]} on {storage.url} is damaged; gc stops rather than "
                                         "guess what it references") from None
    return referenced


def _objects(storage) -> dict[str, int]:
    found = {}
    for key, size in storage.list("objects/"):
        parts = key.split("/")
        if len(parts) == 3 and len(parts[1]) == 2 and len(parts[2]) == 62 and _HEX.issuperset(parts[1] + parts[2]):
            found[parts[1] + parts[2]] = size
    return found


def gc_remote(repo: Repo, remote: str | None = None, *, grace: str | None = None, dry_run: bool = False) -> dict:
    from mreg.core.timeparse import format_time, parse_duration, parse_time, utc_now

    name, settings = chosen_remote(repo, remote)
    storage = connect(settings["url"], settings["options"])
    seconds = parse_duration(grace or repo.config.gc_grace)
    now = time.time()
    report = {"remote": name, "objects": 0, "bytes": 0, "marked": 0, "dry_run": dry_run}
    marks = []
    for key, _ in storage.list("gc/marks/"):
        document = decode(storage.read(key, MAX_SMALL * 64) or b"{}", f"{key} on {storage.url}")
        when, objects = document.get("time"), document.get("objects")
        if not isinstance(when, str) or not isinstance(objects, list):
            raise IntegrityError(f"{key} on {storage.url} is not a gc mark")
        marks.append((key, parse_time(when).timestamp(), [o for o in objects if isinstance(o, str)]))
    due = {o for _, at, objects in marks if now - at >= seconds for o in objects}
    swept = False
    if due and not dry_run:
        swept = True
        if not storage.create("gc/sweep.json", encode({"time": format_time(utc_now())})):
            from mreg.errors import BusyError

            raise BusyError(f"another gc is deleting objects on {storage.url} (gc/sweep.json)",
                            hint="if no gc runs, delete gc/sweep.json on the remote")
        try:
            claimed: set[str] = set()
            for key, _ in storage.list("pushes/"):
                claim = decode(storage.read(key, MAX_SMALL * 64) or b"{}", f"{key} on {storage.url}")
                try:
                    age = now - parse_time(claim.get("time", "")).timestamp()
                except Exception:  # noqa: BLE001 - a damaged claim protects nothing, but is kept
                    age = 0
                if age > CLAIM_MAX_AGE:
                    storage.delete(key)
                    continue
                claimed.update(o for o in claim.get("objects", []) if isinstance(o, str))
            referenced = _referenced(storage, _models(storage))
            present = _objects(storage)
            for hexdigest in sorted(due - referenced - claimed):
                if hexdigest in present:
                    storage.delete(object_key(hexdigest))
                    report["objects"] += 1
                    report["bytes"] += present[hexdigest]
            for key, at, _ in marks:
                if now - at >= seconds:
                    storage.delete(key)
        finally:
            storage.delete("gc/sweep.json")
    referenced = _referenced(storage, _models(storage))
    unreferenced = sorted(set(_objects(storage)) - referenced)
    # Marks swept just now are gone: what they named and was kept (claimed) is marked again, afresh.
    already = {o for _, at, objects in marks if not (swept and now - at >= seconds) for o in objects}
    fresh = [o for o in unreferenced if o not in already]
    if fresh and not dry_run:
        stamp = format_time(utc_now())
        storage.create(f"gc/marks/{stamp.replace(':', '')}-{uuid.uuid4().hex[:8]}.json",
                       encode({"time": stamp, "objects": fresh}))
    report["marked"] = len(fresh)
    report["leftovers"] = _leftovers(storage, seconds, dry_run)
    return report


def _leftovers(storage, grace: float, dry_run: bool) -> dict:
    """What killed uploads left (temporary keys, unfinished uploads), removed once older than the grace period."""
    from mreg.core.remote.leftovers import sweep_leftovers
    from mreg.core.timeparse import utc_now

    return sweep_leftovers(storage, utc_now().timestamp(), grace, dry_run)
