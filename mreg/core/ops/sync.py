"""`push`, `pull` and `clone`: moving events and objects between a registry and a remote.

The protocol (docs/remotes.md says why it is safe):
- push, per model: the events past what the remote is known to hold become
  one new log entry. Its objects are uploaded first (only those the remote
  lacks), then the entry is created exclusively. If another writer has taken
  that entry number the model is rejected ("run mreg pull"); if the entry
  holds our own events (a push killed after creating it), it is adopted.
- pull, per model: one listing of the logs says which models have entries
  past the known ones; only those entries are read (in parallel where the
  storage allows), checked (schema, hash chain), their objects fetched and
  verified (unless the clone is lazy), and applied; local events not yet
  pushed are re-applied on top, with every rule checked again.
- A push with nothing to send makes no request at all (the remote is not even
  opened); a model with something to send costs a claim, one probe per object
  and one create, whatever the number of other models.
"""

from __future__ import annotations

import copy
import os
import random
import time
import uuid

from mreg.core import history, index as index_mod
from mreg.core.fsutil import real_folders, translate_os_errors, write_atomic
from mreg.core.ops.remotes import chosen_remote
from mreg.core.remote.format import (GENESIS, MARKER, MAX_ENTRY, MAX_SMALL, check_marker, encode, encode_entry,
                                     log_key, parse_entry, parse_log_key)
from mreg.core.remote.state import load_state, save_state
from mreg.core.repo import Repo
from mreg.errors import IntegrityError, NotFoundError, RefusedError

_HINT = "the remote is damaged or hostile: run `mreg verify --remote NAME` and restore it from a backup"
REBASE_ATTEMPTS = 8
SWEEP_WAIT = 120.0  # seconds a push waits for a running gc sweep before giving up


def connect(url: str, options: dict, reading: bool = False):
    """The remote's storage, its marker checked; `reading` for a caller that only lists and reads small keys."""
    from mreg.core.remote.backends import open_reader, open_storage

    storage = (open_reader if reading else open_storage)(url, options)
    check_marker(storage.read(MARKER, MAX_SMALL), url)
    return storage


def _local_events(repo: Repo, model: dict) -> list[dict]:
    meta = model["history"]
    return history.read_events(repo.layout.history_path(model["name"]), meta["events"], meta["head"], model["name"])


# --- push ----------------------------------------------------------------------------

def _claim(storage, digests: list[str]) -> str:
    """Tell gc which objects our entry will name, before looking at them; wait out a running sweep."""
    key = f"pushes/{uuid.uuid4().hex}.json"
    from mreg.core.timeparse import format_time, utc_now

    storage.create(key, encode({"time": format_time(utc_now()), "objects": digests}))
    deadline = time.monotonic() + SWEEP_WAIT
    while storage.exists("gc/sweep.json") and time.monotonic() < deadline:
        time.sleep(0.2)
    return key


def _objects_of(repo: Repo, events: list[dict]) -> list[str]:
    from mreg.core.remote.transfer import version_objects

    digests: list[str] = []
    for event in events:
        if event["action"] == "register":
            record = event["details"].get("record")
            if isinstance(record, dict):
                digests += [d for d in version_objects(repo.store, record) if d not in digests]
    return digests


ENTRY_TARGET = 4 << 20  # an entry holds events up to about this size, so a reader's limit is never reached


def _batch(events: list[dict]) -> list[dict]:
    """The first events that fit in one log entry (at least one: an event is at most about 2 MiB)."""
    size = 0
    for count, event in enumerate(events):
        size += len(encode(event)) + 1
        if size > ENTRY_TARGET and count:
            return events[:count]
    return events


def _push_model(repo: Repo, storage, state: dict, name: str, report: dict, progress_for) -> bool:
    """Push one model; False if the remote has moved ahead of it (a pull is needed)."""
    from mreg.core.remote.transfer import upload_object

    model = index_mod.load_model(repo.layout, name)
    if model is None:
        raise NotFoundError(f"no model named {name!r}")
    entries, known = state.get(name, [0, 0])
    count = model["history"]["events"]
    if count == known:
        return True  # nothing to send: not a single request
    if count < known:
        raise IntegrityError(f"the history of {name} is shorter than what was pushed of it ({count} < {known} events)",
                             hint="remove .mreg/remotes/REMOTE.json and pull again")
    events = _local_events(repo, model)
    sent = 0
    claim = None
    try:
        while known < count:
            new = events[known:]
            if claim is None:
                digests = _objects_of(repo, new)
                claim = _claim(storage, digests)
                bar = progress_for(sum(os.lstat(repo.store.path(d)).st_size for d in digests)) if progress_for else None
                for digest in digests:
                    size = upload_object(storage, repo.store, digest, bar)
                    if size:
                        report["objects"] += 1
                        report["bytes"] += size
            prev = events[known - 1]["hash"] if known else GENESIS
            number = entries + 1
            batch = _batch(new)
            if storage.create(log_key(name, number), encode_entry(name, number, prev, batch)):
                entries, known = number, known + len(batch)
                sent += len(batch)
                _snapshot(storage, name, entries, events[:known])
                continue
            # The entry is taken: by our own push killed after creating it, or by another writer.
            data = storage.read(log_key(name, number), MAX_ENTRY)
            if data is None:
                raise IntegrityError(f"entry {number} of {name} on {storage.url} could not be created nor read")
            theirs = parse_entry(data, f"{log_key(name, number)} on {storage.url}", name, number, prev, known)
            if [e["hash"] for e in theirs] != [e["hash"] for e in new[:len(theirs)]]:
                return False
            entries, known = number, known + len(theirs)
            sent += len(theirs)
            _snapshot(storage, name, entries, events[:known])  # a push killed after the entry wrote none
    finally:
        state[name] = [entries, known]
        if claim is not None:
            storage.delete(claim)
    report["pushed"][name] = report["pushed"].get(name, 0) + sent
    return True


def _snapshot(storage, name: str, number: int, events: list[dict]) -> None:
    """After entry `number` exists (never before: the entry is the truth), every EVERY-th entry's
    writer leaves the index replayed to there, so readers need not replay the log from its start."""
    from mreg.core import replay
    from mreg.core.remote.snapshots import EVERY, write_snapshot

    if number % EVERY:
        return
    try:
        model = replay.rebuild(name, events)
    except replay.NotReplayable:
        return  # a history written by an earlier mreg: readers replay it, as they always did
    write_snapshot(storage, name, number, model)


def push(repo: Repo, remote: str | None = None, names=(), *, rebase: bool = False, progress_for=None) -> dict:
    """Send the objects and events the remote lacks, model by model."""
    from mreg.core.names import validate_name

    remote_name, settings = chosen_remote(repo, remote)
    recover_stashes(repo)
    report: dict = {"remote": remote_name, "pushed": {}, "objects": 0, "bytes": 0, "rejected": [], "renumbered": []}
    targets = list(names) or repo.model_names()
    known = load_state(repo.layout, remote_name)
    storage = None
    for name in targets:
        validate_name(name)
        if not _unpushed(repo, known, name):
            continue
        if storage is None:
            # Connected only when there is something to send: a push with nothing to send
            # makes no request (and does not even load the storage's client library).
            storage = connect(settings["url"], settings["options"])
        for attempt in range(REBASE_ATTEMPTS if rebase else 1):
            state = load_state(repo.layout, remote_name)
            try:
                done = _push_model(repo, storage, state, name, report, progress_for)
            finally:
                _save_model_state(repo, remote_name, name, state)
            if done:
                break
            if rebase:
                pulled = pull(repo, remote_name, [name])
                report["renumbered"] += pulled["renumbered"]
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        else:
            report["rejected"].append(name)
    report["pushed"] = {k: v for k, v in report["pushed"].items() if v}
    return report


def _unpushed(repo: Repo, state: dict, name: str) -> bool:
    """Whether model `name`'s history has events the remote was not known to hold (read locally only)."""
    model = index_mod.load_model(repo.layout, name)
    if model is None:
        raise NotFoundError(f"no model named {name!r}")
    return model["history"]["events"] != state.get(name, [0, 0])[1]


def _save_model_state(repo: Repo, remote: str, name: str, state: dict) -> None:
    """Record one model's place under the lock (another process may be recording another model's)."""
    with repo.locked():
        current = load_state(repo.layout, remote)
        if name in state:
            current[name] = state[name]
        save_state(repo.layout, remote, current)


# --- pull ----------------------------------------------------------------------------

def remote_models(storage) -> dict[str, int]:
    """Every model the remote has a log for, with its highest entry number (one listing)."""
    return remote_listing(storage)[0]


def remote_listing(storage) -> tuple[dict[str, int], dict[str, list[int]]]:
    """One listing of `models/`: each model's highest entry number, and the entries its snapshots are at."""
    from mreg.core.remote.snapshots import parse_snapshot_key

    found: dict[str, int] = {}
    snapshots: dict[str, list[int]] = {}
    for key, _size in storage.list("models/"):
        parsed = parse_log_key(key)
        if parsed is not None:
            found[parsed[0]] = max(found.get(parsed[0], 0), parsed[1])
            continue
        parsed = parse_snapshot_key(key)
        if parsed is not None:
            snapshots.setdefault(parsed[0], []).append(parsed[1])
    return found, snapshots


def _read_new_entries(storage, name: str, entries: int, prev: str, seq: int,
                      last: int | None = None) -> tuple[list[dict], int]:
    """The events of the entries after `entries` (read until one is missing, or up to `last`), checked;
    and the new entry count."""
    events: list[dict] = []
    while last is None or entries < last:
        number = entries + 1
        data = storage.read(log_key(name, number), MAX_ENTRY)
        if data is None:
            return events, entries
        found = parse_entry(data, f"{log_key(name, number)} on {storage.url}", name, number, prev, seq)
        events += found
        prev, seq, entries = found[-1]["hash"], seq + len(found), number
    return events, entries


def _fetch_objects(repo: Repo, storage, events: list[dict], report: dict, progress_for) -> None:
    from mreg.core.pins import Intake
    from mreg.core.remote.format import object_key
    from mreg.core.remote.transfer import fetch_object
    from mreg.core.store import parse_digest

    records = [e["details"].get("record") for e in events if e["action"] == "register"]
    records = [r for r in records if isinstance(r, dict)]
    if not records:
        return
    with Intake(repo.layout, "fetch objects from the remote") as intake:
        wanted: list[str] = []
        for record in records:
            root = parse_digest(record["digest"])
            wanted.append(root)
            if record["kind"] == "directory":
                intake.pin(root)
                if not repo.store.exists(root):
                    report["bytes"] += fetch_object(storage, repo.store, root, intake)
                    report["objects"] += 1
                from mreg.core.artifact import load_manifest

                wanted += [parse_digest(e["digest"]) for e in load_manifest(repo.store, root)]
        missing = []
        for digest in dict.fromkeys(wanted):
            intake.pin(digest)
            if not repo.store.exists(digest):
                missing.append(digest)
        total = 0
        for digest in missing:
            total += storage.size(object_key(digest)) or 0
        bar = progress_for(total) if progress_for else None
        for digest in missing:
            report["bytes"] += fetch_object(storage, repo.store, digest, intake, bar)
            report["objects"] += 1


# Models pulled together: their new entries are read (several at once where the storage allows it) and then
# applied under one hold of the lock, with the remote's state recorded once for them all.
PULL_BATCH = 64
READERS = 8  # entries read at once from a storage that takes requests from several threads


def pull(repo: Repo, remote: str | None = None, names=(), *, progress_for=None, storage=None) -> dict:
    """Fetch the remote's new events (and objects, unless lazy) and apply them; re-apply local ones on top."""
    from mreg.core.names import validate_name

    remote_name, settings = chosen_remote(repo, remote)
    if storage is None:
        storage = connect(settings["url"], settings["options"])
    report: dict = {"remote": remote_name, "pulled": {}, "objects": 0, "bytes": 0, "renumbered": []}
    recover_stashes(repo)
    state = load_state(repo.layout, remote_name)
    # The listing of every model's log says which models have entries past the known ones: only those are
    # read, up to the last entry listed. Named models are probed instead (one read each).
    listed: dict[str, int] | None = None
    if names:
        targets = [validate_name(n) for n in names]
    else:
        listed = remote_models(storage)
        targets = sorted(name for name, last in listed.items() if last > state.get(name, [0, 0])[0])
    for start in range(0, len(targets), PULL_BATCH):
        pulled = _read_batch(repo, storage, state, targets[start:start + PULL_BATCH], listed)
        if not settings["lazy"]:
            for _name, _before, _after, new in pulled:
                _fetch_objects(repo, storage, new, report, progress_for)
        report["renumbered"] += _apply(repo, remote_name, pulled)
        for name, _before, _after, new in pulled:
            report["pulled"][name] = len(new)
    return report


def _read_batch(repo: Repo, storage, state: dict, names: list[str], listed: dict[str, int] | None) -> list[tuple]:
    """(name, place before, place after, new events) of each model in `names` with new entries on the remote."""
    jobs = []
    for name in names:
        entries, known = state.get(name, [0, 0])
        model = index_mod.load_model(repo.layout, name)
        local = _local_events(repo, model) if model is not None else []
        if len(local) < known:
            raise IntegrityError(f"the history of {name} is shorter than what the remote holds of it")
        prev = local[known - 1]["hash"] if known else GENESIS
        jobs.append((name, entries, prev, known, None if listed is None else listed[name]))

    def read(job: tuple) -> tuple[list[dict], int]:
        return _read_new_entries(storage, *job)

    if len(jobs) > 1 and getattr(storage, "threadsafe", False):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(READERS, len(jobs))) as pool:
            results = list(pool.map(read, jobs))
    else:
        results = [read(job) for job in jobs]
    return [(name, [entries, known], [entries_now, known + len(new)], new)
            for (name, entries, _prev, known, _last), (new, entries_now) in zip(jobs, results) if new]


def _apply(repo: Repo, remote: str, pulled: list[tuple]) -> list[dict]:
    """Put each model's remote `new` events after its first `known` local ones; re-apply the local rest on top.

    Under the lock, with the remote's state recorded in the same hold, once
    for every model of `pulled` ((name, place before, place after, new events)).
    Events already in the local history (a pull killed before it recorded its
    state, or one that ran meanwhile) are recognised by their hashes and not
    applied twice.
    """
    renumbered: list[dict] = []
    if not pulled:
        return renumbered
    with repo.locked():
        state = load_state(repo.layout, remote)
        for name, before, after, new in pulled:
            if state.get(name, [0, 0]) != before:
                continue  # another pull applied them meanwhile
            renumbered += _apply_locked(repo, name, before[1], new)
            state[name] = after
        save_state(repo.layout, remote, state)
    return renumbered


def _apply_locked(repo: Repo, name: str, known: int, new: list[dict]) -> list[dict]:
    from mreg.core import replay
    from mreg.core.repo import Transaction

    layout = repo.layout
    if True:
        recover_stash(layout, name)
        model = index_mod.load_model(layout, name) or index_mod.new_model(name)
        local = _local_events(repo, model)
        if len(local) < known or (known and local[known - 1]["hash"] != new[0]["prev"]):
            raise IntegrityError(f"the history of {name} no longer holds what was pulled of it",
                                 hint="remove .mreg/remotes/REMOTE.json and pull again")
        mine = local[known:]
        same = 0
        while same < min(len(mine), len(new)) and mine[same]["hash"] == new[same]["hash"]:
            same += 1
        known, mine, new = known + same, mine[same:], new[same:]
        if not new:
            return []
        with translate_os_errors(f"write the history of {name}"):
            real_folders(layout.root, "models", *name.split("/"), create=True)
            if not mine:
                # Fast-forward: the ordinary commit order (append the events, then replace the index).
                trial = copy.deepcopy(model)
                try:
                    replay.apply(trial, new)
                except replay.NotReplayable as exc:
                    raise IntegrityError(f"the remote's events of {name} cannot be applied: {exc}") from None
                _check_model(trial, _HINT)
                _fast_forward(layout, model, new, applied=trial)
                recover_stash(layout, name)  # a re-application a crash interrupted goes on top
                return []
            base = local[:known] + new
            try:
                rebuilt = replay.rebuild(name, base)
            except replay.NotReplayable as exc:
                raise IntegrityError(f"the remote's events of {name} cannot be applied: {exc}") from None
            _check_model(rebuilt, _HINT)
            tx = Transaction(repo)
            tx.adopt(rebuilt)
            renumbered: list[dict] = []
            numbers: dict[str, str] = {}
            for event in mine:
                reapply(tx, rebuilt, event, numbers, renumbered)
            sealed = []
            prev, seq = rebuilt["history"]["head"], rebuilt["history"]["events"]
            for event in tx.buffered(name):
                seq += 1
                event = history.seal(event, prev, seq)
                prev = event["hash"]
                sealed.append(event)
            # Each step below leaves a registry that verifies; the stash keeps our events
            # across the steps where the history holds neither them nor their new form.
            stash = {"name": name, "mine": local[-1]["hash"], "pushed": local[known - 1]["hash"] if known else GENESIS,
                     "base": rebuilt["history"]["head"], "events": sealed}
            _write_stash(layout, stash)
            pushed_model = replay.rebuild(name, local[:known])
            index_mod.save_model(layout, pushed_model)  # 1. ours dropped (a tail past the head)
            _fast_forward(layout, pushed_model, new)  # 2. the remote's events
            recover_stash(layout, name)  # 3. ours, renumbered, on top
            return renumbered


def _fast_forward(layout, model: dict, new: list[dict], applied: dict | None = None) -> None:
    """Append committed events after the model's head, then replace its index: the ordinary commit order.

    `applied` is `model` with `new` already applied (and checked) by the caller, so as not to replay
    them twice: copying each version's record is most of a clone's CPU time.
    """
    from mreg.core import replay

    committed = dict(model["history"])
    if applied is None:
        applied = replay.apply(model, new)
    history.append(layout.history_path(model["name"]), committed["bytes"], new, count=committed["events"],
                   head=committed["head"])
    index_mod.save_model(layout, applied)


def _stash_path(layout, name: str) -> str:
    return os.path.join(layout.root, "remotes", "stash", name.replace("/", "~") + ".json")


def _write_stash(layout, stash: dict) -> None:
    from mreg.core.fsutil import real_folder

    path = _stash_path(layout, stash["name"])
    real_folder(os.path.dirname(os.path.dirname(path)), create=True)
    real_folder(os.path.dirname(path), create=True)
    write_atomic(path, encode(stash))


def recover_stashes(repo: Repo) -> None:
    """Finish every re-application a crash interrupted (one listing when there is none)."""
    folder = os.path.join(repo.layout.root, "remotes", "stash")
    try:
        names = sorted(f[:-len(".json")].replace("~", "/") for f in os.listdir(folder) if f.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return
    if names:
        from mreg.core.names import validate_name

        with repo.locked():
            for name in names:
                validate_name(name)
                recover_stash(repo.layout, name)


def recover_stash(layout, name: str) -> None:
    """Finish (or drop) a re-application of local events that a crash interrupted. Under the lock.

    The model's head says how far it got: still at our own last event (nothing
    changed yet: the next pull starts again), at the last event we had pushed
    (ours dropped, the remote's not yet applied: keep the stash for the pull
    that applies them), at the remote's last event (apply ours now), or past it (done).
    """
    import json

    from mreg.core import replay
    from mreg.core.fsutil import read_regular_file

    path = _stash_path(layout, name)
    try:
        stash = json.loads(read_regular_file(path, f"the stash of {name}"))
    except (FileNotFoundError, NotADirectoryError):
        return
    except ValueError:
        raise IntegrityError(f"the stash of {name} is damaged ({path})") from None
    model = index_mod.load_model(layout, name) or index_mod.new_model(name)
    head = model["history"]["head"]
    if head == stash["pushed"] and head != stash["mine"]:
        return
    if head == stash["base"]:
        events = stash["events"]
        committed = dict(model["history"])
        try:
            replay.apply(model, events)
        except replay.NotReplayable as exc:
            raise IntegrityError(f"the stash of {name} cannot be applied: {exc}") from None
        history.append(layout.history_path(name), committed["bytes"], events, count=committed["events"],
                       head=committed["head"])
        index_mod.save_model(layout, model)
    os.unlink(path)


def _check_model(model: dict, url_hint: str) -> None:
    """The index the remote's events build must pass every check a local index passes, and more:
    a recorded file name becomes a path on `get`."""
    from mreg.core.remote.snapshots import index_fault

    fault = index_fault(model, model["name"])
    if fault:
        raise IntegrityError(f"the remote's events of {model['name']} build an index that is not valid: {fault}; "
                             "nothing was applied", hint=url_hint)


def _side(record: dict) -> str:
    return f"{record.get('digest', '?')[:19]}… by {record.get('created_by', '?')} at {record.get('created_at', '?')}"


def reapply(tx, model: dict, event: dict, numbers: dict[str, str], renumbered: list[dict]) -> None:
    """Re-run one local event on top of the remote's state, every rule checked again."""
    from mreg.core.ops.lifecycle import enter_stage, refuse_move
    from mreg.core.ops.register import _next_version

    name = model["name"]
    action = event["action"]
    details = event["details"]
    version = numbers.get(event["version"], event["version"])
    lifecycle = tx.registry.lifecycle
    if action == "register":
        record = copy.deepcopy(details["record"])
        bump = details.get("bump", "patch")
        taken = version in model["versions"] or version in model["removed"]
        if taken and "bump" in details and bump is None:
            theirs = model["versions"].get(version, {})
            raise RefusedError(
                f"{name}@{version} was registered on the remote meanwhile ({_side(theirs)}); yours "
                f"({_side(record)}) was given explicitly with --version; nothing was changed",
                hint=f"remove your {name}@{version} (mreg rm) and register it again with another --version")
        if taken:
            new = _next_version(model, None, bump or "patch")
            numbers[event["version"]] = new
            renumbered.append({"name": name, "from": version, "to": new})
            version = new
        record["version"] = version
        model["versions"][version] = record
        tx.record(model, "register", version, source=event["from"], target=event["to"], reason=event["reason"],
                  details=dict(details, record=record))
        return
    if action == "supersede":
        return  # the stage move that caused it supersedes whoever holds the stage now
    record = model["versions"].get(version)
    if action in ("rm", "gc"):
        if record is not None:
            del model["versions"][version]
            model["removed"].append(version)
            tx.record(model, action, version, source=event["from"], target=event["to"], reason=event["reason"],
                      details=dict(details, record=record) if "record" in details else details)
        return
    if action == "alias":
        _reapply_alias(tx, model, event, numbers)
        return
    if action in ("deploy", "undeploy"):
        _reapply_split(tx, model, event, numbers)
        return
    if action in ("approve", "reject", "void", "override"):
        _reapply_decision(tx, model, event, numbers)
        return
    if record is None:
        raise RefusedError(f"cannot re-apply your {action} of {name}@{version}: the remote removed that version",
                           hint="nothing was changed")
    if action in ("transition", "promote", "rollback"):
        if record["stage"] != event["from"] or (action != "rollback" and not lifecycle.allowed(record["stage"], event["to"])):
            if record["stage"] == event["to"]:
                return  # the remote made the same move
            raise RefusedError(f"cannot re-apply your {action} of {name}@{version} ({event['from']} → {event['to']}): "
                               f"on the remote it is now in {record['stage']}; nothing was changed",
                               hint=refuse_move(lifecycle, name, version, record["stage"], event["to"]).hint)
        enter_stage(tx, model, version, event["to"], action, event["reason"])
        return
    if action == "update":
        for group, key, value in details["set"]:
            if key is None:
                record[group] = value
            else:
                record.setdefault(group, {})[key] = copy.deepcopy(value)
        for group, key in details["unset"]:
            record.setdefault(group, {}).pop(key, None)
        tx.record(model, "update", version, source=event["from"], target=event["to"], reason=event["reason"],
                  details=details)
        return
    raise RefusedError(f"cannot re-apply a local {action} event of {name} on top of the remote's",
                       hint="nothing was changed")


def _mapped(numbers: dict[str, str], version: str | None) -> str | None:
    return numbers.get(version, version) if version is not None else None


def _reapply_alias(tx, model: dict, event: dict, numbers: dict[str, str]) -> None:
    """An alias move, re-pointed at the version's number on top of the remote (renumbered if it was)."""
    from mreg.core.ops.alias import move

    details = event["details"]
    alias, after = details["alias"], _mapped(numbers, details.get("after"))
    if after is not None and after not in model["versions"]:
        raise RefusedError(f"cannot re-apply your alias {alias} → {model['name']}@{after}: the remote removed "
                           f"that version; nothing was changed")
    if (model.get("aliases") or {}).get(alias) != after:
        move(tx, model, alias, after, event["reason"])


def _reapply_split(tx, model: dict, event: dict, numbers: dict[str, str]) -> None:
    """A deploy or undeploy goes on top only if the remote left the environment's split as it found it:
    two people changing one environment's traffic at once must see each other's change first."""
    from mreg.core import split as splits
    from mreg.core.ops.deploy import change_split, current_split, refuse_ineligible

    details = event["details"]
    env = details["env"]
    before = {_mapped(numbers, v): p for v, p in details["from"].items()}
    after = {_mapped(numbers, v): p for v, p in details["to"].items()}
    now = current_split(model, env)
    if now == after:
        return  # the remote made the same change
    if now != before:
        raise RefusedError(
            f"cannot re-apply your {event['action']} of {model['name']} in {env}: its split changed on the remote "
            f"meanwhile (now {splits.describe(now) or 'no traffic'}); nothing was changed",
            hint=f"remove your change (mreg deploy {model['name']} --env {env} --rollback), pull, and deploy again")
    for version in after:
        refuse_ineligible(tx, model, version, env)
    change_split(tx, model, env, after, version=_mapped(numbers, event["version"]), reason=event["reason"],
                 rollback=bool(details.get("rollback")))


def _reapply_decision(tx, model: dict, event: dict, numbers: dict[str, str]) -> None:
    """An approval, rejection, void or override, with approval ids renumbered past the remote's own
    (their ids are per model, so both sides may have used the same ones)."""
    from mreg.core import policy

    action, details = event["action"], copy.deepcopy(event["details"])
    version = _mapped(numbers, event["version"])
    if version not in model["versions"]:
        raise RefusedError(f"cannot re-apply your {action} of {model['name']}@{version}: the remote removed that "
                           f"version; nothing was changed")

    def approval(number: int) -> int:
        return int(numbers.get(f"approval:{number}", number))

    if action in ("approve", "reject"):
        record = details["record"]
        new_id = max((r["id"] for r in model.get("approvals", ())), default=0) + 1
        numbers[f"approval:{record['id']}"] = str(new_id)
        record.update(id=new_id, version=version)
        details["withdraws"] = [approval(i) for i in details["withdraws"]]
        policy.add(model, record, details["withdraws"], tx.now)
    elif action == "void":
        details["ids"] = [approval(i) for i in details["ids"]]
        policy.void(model, details["ids"], tx.now, event["reason"])
    elif isinstance(details.get("approvals"), list):
        details["approvals"] = [approval(i) for i in details["approvals"]]
    tx.record(model, action, version, source=event["from"], target=event["to"], reason=event["reason"],
              details=details)


# --- clone ---------------------------------------------------------------------------

def clone(url: str, directory: str | None = None, *, options=(), lazy: bool = False, progress_for=None):
    """A new registry in `directory` (default: the remote's last path part) with the remote as `origin`.

    It is built under a temporary name beside `.mreg/`, with no fsync per file (nobody uses it
    yet), made durable in one flush, and renamed to `.mreg/` last: a clone killed at any moment
    leaves no `.mreg/`, so no command ever takes a half-cloned folder for a registry.
    """
    import shutil

    from mreg.core.fsutil import deferred_durability, fsync_dir
    from mreg.core.layout import REGISTRY_DIR
    from mreg.core.ops.remotes import parse_options

    settings = parse_options(options)
    storage = connect(url, settings)
    config_bytes = remote_config(storage, url)
    if directory is None:
        directory = os.path.basename(url.rstrip("/")) or "registry"
    project = os.path.abspath(directory)
    root = os.path.join(project, REGISTRY_DIR)
    if os.path.lexists(root):
        raise RefusedError(f"{directory} already holds a registry", hint="clone into a new folder")
    made_project = not os.path.exists(project)
    # Never `.mreg`: what a killed clone leaves is no registry. Unique, so a leftover never blocks a clone.
    building = os.path.join(project, f"{REGISTRY_DIR}.clone-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with translate_os_errors(f"clone into {directory}"):
            os.makedirs(project, exist_ok=True)
            os.mkdir(building)
        with translate_os_errors(f"clone into {directory}"), deferred_durability(building):
            layout = init_from_remote(config_bytes, url, project, settings, lazy, root=building)
            report = pull(Repo(layout), "origin", progress_for=progress_for, storage=storage)
        with translate_os_errors(f"clone into {directory}"):
            # Fails (ENOTEMPTY) rather than replace a registry another process made there meanwhile.
            os.rename(building, root)
            fsync_dir(project)
            if made_project:
                fsync_dir(os.path.dirname(project))
    except BaseException:
        shutil.rmtree(project if made_project else building, ignore_errors=True)
        raise
    report["path"] = project
    return report


def remote_config(storage, url: str) -> bytes:
    from mreg.core.remote.format import CONFIG

    config_bytes = storage.read(CONFIG, MAX_SMALL)
    if config_bytes is None:
        raise IntegrityError(f"remote {url} has no config.toml")
    return config_bytes


def init_from_remote(config_bytes: bytes, url: str, project: str, settings: dict, lazy: bool, *,
                     root: str | None = None):
    """A new `.mreg/` in `project` (or in the folder `root`) with the remote's config (`config_bytes`)
    and the remote as `origin`."""
    import sys

    from mreg.core.config import load_config, render_config
    from mreg.core.repo import init_layout, init_root

    layout = init_root(root) if root else init_layout(project)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        document = tomllib.loads(config_bytes.decode())
    except (ValueError, RecursionError):
        raise IntegrityError(f"the config.toml of remote {url} is damaged") from None
    document.pop("remotes", None)
    entry: dict = {"url": url if "://" in url else os.path.abspath(url)}
    if settings:
        entry["options"] = settings
    if lazy:
        entry["lazy"] = True
    document["remotes"] = {"origin": entry}
    write_atomic(layout.config, render_config(document))
    try:
        load_config(layout.config)
    except IntegrityError as exc:
        raise IntegrityError(f"the config of remote {url} is not valid: {exc.message}") from None
    return layout
