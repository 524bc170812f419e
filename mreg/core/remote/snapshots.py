"""Snapshots of a model's log on a remote: derived copies of its index, so a reader need not replay it all.

`models/NAME/_snapshots/00000064.json` holds the model's index as replaying
entries 1…64 of its log gives it, the entry number and the hash of entry
64's last event (the chain head). The entry is the truth and the snapshot
only derived from it: the writer of every EVERY-th entry writes one after
the entry exists, created exclusively (two writers racing for it would
write the same bytes, so losing the race is not an error), and a failed
upload fails nothing.

A reader starts from the newest snapshot at or below the log's last entry,
checks it as any index from a remote is checked (size, depth, schema, file
names), reads entry n alone to check the chain head, and replays only the
entries after n, whose hash chain continues from that head. A snapshot
that fails a check is ignored (the reader falls back to an older one, or
to the whole log); `verify --remote` replays every log and reports each
snapshot that differs from the replay at its entry.
"""

from __future__ import annotations

from mreg.core.history import hash_of
from mreg.core.remote.format import FORMAT, MAX_ENTRY, decode, encode, log_key
from mreg.core.schema import is_count, is_digest
from mreg.errors import IntegrityError, MregError

# A snapshot every 64 entries: a reader replays at most 63 entries past the newest one (a few tenths of a
# second of requests on S3), while the writers pay one extra upload per 64 commits (under 2% more requests)
# and the remote keeps one copy of the index per 64 entries.
EVERY = 64
# A larger index gets no snapshot (the writer skips it, a reader refuses it): readers replay its log instead.
MAX_SNAPSHOT = 64 << 20
_FOLDER = "_snapshots"  # `_` starts no name segment: no model's log or snapshots can be mistaken for these
_DIGITS = 8


def snapshot_key(name: str, number: int) -> str:
    return f"models/{name}/{_FOLDER}/{number:0{_DIGITS}d}.json"


def parse_snapshot_key(key: str) -> tuple[str, int] | None:
    """(model name, entry number) of a snapshot's key; None for any other key (or an invalid model name)."""
    from mreg.core.names import validate_name

    if not key.startswith("models/") or not key.endswith(".json"):
        return None
    head, sep, tail = key[len("models/"):-len(".json")].rpartition(f"/{_FOLDER}/")
    if not sep or len(tail) != _DIGITS or not tail.isascii() or not tail.isdigit() or not int(tail):
        return None
    try:
        validate_name(head)
    except MregError:
        return None  # a snapshot is optional: one under a name no model can have is never read
    return head, int(tail)


def encode_snapshot(name: str, number: int, model: dict) -> bytes:
    return encode({"format": FORMAT, "name": name, "entry": number, "head": model["history"]["head"],
                   "index": model})


def index_fault(model: object, name: str) -> str | None:
    """What makes an index built from (or read from) a remote unfit: every check a local index passes, and
    more, since a recorded file name becomes a path on `get`. None when it is fine."""
    from mreg.core.artifact import filename_fault
    from mreg.core.index import INDEX_FORMAT
    from mreg.core.schema import model_fault

    if isinstance(model, dict) and model.get("format") != INDEX_FORMAT:
        return "format: not an index format this mreg reads"
    fault = model_fault(model, name)
    if fault:
        return fault
    for version, record in model["versions"].items():
        if record.get("filename") is not None:
            bad = filename_fault(record["filename"])
            if bad:
                return f"versions.{version}.filename: {bad}"
    return None


def parse_snapshot(data: bytes, what: str, name: str, number: int) -> dict:
    """The index a snapshot holds, checked as an index from a hostile remote; IntegrityError naming `what`."""
    document = decode(data, what)
    found = document.get("format")
    if not is_count(found) or found != FORMAT:
        raise IntegrityError(f"{what}: format: not a snapshot format this mreg reads")
    if document.get("name") != name or not is_count(document.get("entry")) or document["entry"] != number:
        raise IntegrityError(f"{what} does not hold the snapshot of model {name} at entry {number}")
    head, model = document.get("head"), document.get("index")
    fault = "head: not a digest" if not is_digest(head) else index_fault(model, name)
    if fault is None and model["history"]["head"] != head:
        fault = "its index's history.head is not its head"
    if fault:
        raise IntegrityError(f"{what} is not a valid snapshot: {fault}")
    return model


def check_head(storage, name: str, number: int, model: dict) -> None:
    """Entry `number` must end with the snapshot's head, as its event number `history.events`: read that
    entry alone (its hash and place, not its whole chain: the entries after it continue from this head)."""
    key = log_key(name, number)
    what = f"{key} on {storage.url}"
    data = storage.read(key, MAX_ENTRY)
    if data is None:
        raise IntegrityError(f"{what} is missing")
    entry = decode(data, what)
    events = entry.get("events")
    last = events[-1] if isinstance(events, list) and events and isinstance(events[-1], dict) else None
    if entry.get("name") != name or entry.get("entry") != number or last is None:
        raise IntegrityError(f"{what} does not hold entry {number} of model {name}")
    try:
        sound = hash_of(last) == last.get("hash")
    except (UnicodeEncodeError, TypeError, ValueError):
        sound = False
    meta = model["history"]
    if not sound or last.get("hash") != meta["head"] or last.get("seq") != meta["events"]:
        raise IntegrityError(f"{snapshot_key(name, number)} on {storage.url} does not end where entry {number} "
                             "ends (its head is not that entry's last event)")


def read_snapshot(storage, name: str, number: int) -> dict:
    """The checked index of the snapshot of `name` at entry `number` (its head checked against the entry)."""
    key = snapshot_key(name, number)
    data = storage.read(key, MAX_SNAPSHOT)
    if data is None:
        raise IntegrityError(f"{key} on {storage.url} is missing")
    model = parse_snapshot(data, f"{key} on {storage.url}", name, number)
    check_head(storage, name, number, model)
    return model


def newest_snapshot(storage, name: str, numbers, after: int, last: int,
                    ignored: list[str] | None = None) -> tuple[int, dict] | None:
    """(n, index) of the newest sound snapshot with `after` < n <= `last` among `numbers`; None if none.

    A snapshot that fails a check is passed over (and named in `ignored`): the
    reader then starts from an older one, or from the log's start.
    """
    for number in sorted((n for n in numbers if after < n <= last), reverse=True):
        try:
            return number, read_snapshot(storage, name, number)
        except IntegrityError as exc:
            if ignored is not None:
                ignored.append(exc.message)
    return None


def write_snapshot(storage, name: str, number: int, model: dict) -> bool:
    """Create the snapshot of `name` at entry `number` (`model` is its index replayed to there).

    True if this call wrote it. Never an error: the entry is committed and is
    the truth; a snapshot already there (a racing writer's, the same bytes),
    one too large, or a failed upload only leaves readers replaying more.
    """
    data = encode_snapshot(name, number, model)
    if len(data) > MAX_SNAPSHOT:
        return False
    try:
        return storage.create(snapshot_key(name, number), data)
    except MregError:
        return False


__all__ = ["EVERY", "MAX_SNAPSHOT", "snapshot_key", "parse_snapshot_key", "encode_snapshot", "index_fault",
           "parse_snapshot", "check_head", "read_snapshot", "newest_snapshot", "write_snapshot"]
