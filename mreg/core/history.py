"""The history: one append-only JSON Lines file per model, hash-chained.

Each event carries `prev`, the hash of the event before it, and `hash`, the
SHA-256 of its own canonical JSON (without `hash`). The model's index records
the count and the hash of the last committed event, so an edited, reordered,
deleted or truncated event breaks the chain where `verify` can see it.

Commit order: events are appended (and fsynced) first, then the index is
replaced. A crash between the two leaves events past the index's head; they
belong to an operation that never happened, so readers stop at the head and
the next writer truncates them.
"""

from __future__ import annotations

import errno
import json
import os
import stat

from mreg.core.fsutil import fsync_dir, kind_of, open_regular_file, write_all
from mreg.errors import IntegrityError

ACTIONS = ("register", "transition", "promote", "supersede", "rollback", "update", "rm", "gc")
GENESIS = "sha256:" + "0" * 64


def _canonical(event: dict) -> bytes:
    body = {k: v for k, v in event.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(event: dict, prev: str, seq: int) -> dict:
    """Chain an event after `prev` and compute its hash."""
    import hashlib  # here, not at the top: read-only commands never hash

    event = dict(event, seq=seq, prev=prev)
    event["hash"] = "sha256:" + hashlib.sha256(_canonical(event)).hexdigest()
    return event


def _open_history(path: str):
    """The history file for reading, as a binary file object (regular files only, see open_regular_file)."""
    fd, _ = open_regular_file(path, "history")
    return os.fdopen(fd, "rb")


def read_events(path: str, count: int) -> list[dict]:
    """The first `count` (committed) events of a model's history, oldest first."""
    if count <= 0:
        return []
    events = []
    try:
        with _open_history(path) as handle:
            for line in handle:
                if len(events) == count:
                    break
                events.append(json.loads(line))
    except FileNotFoundError:
        raise IntegrityError(f"history {path} is missing") from None
    except ValueError:
        raise IntegrityError(f"history {path} is damaged at event {len(events) + 1}") from None
    if len(events) < count:
        raise IntegrityError(f"history {path} is truncated: {len(events)} of {count} events")
    return events


def check_chain(path: str, count: int, head: str) -> str | None:
    """Verify a history file against the index's count and head; None if sound, else the first fault."""
    import hashlib

    prev = GENESIS
    seen = 0
    try:
        handle = _open_history(path)
    except FileNotFoundError:
        return "history file is missing" if count else None
    except IntegrityError as exc:
        return exc.message
    with handle:
        for number, line in enumerate(handle, start=1):
            if seen == count:
                break  # events past the head: an uncommitted operation, discarded on next write
            try:
                event = json.loads(line)
                ok = isinstance(event, dict)
            except ValueError:
                ok = False
            if not ok:
                return f"event {number} is not valid JSON"
            if event.get("prev") != prev:
                return f"event {number} does not follow event {number - 1} (deleted or reordered)"
            if event.get("hash") != "sha256:" + hashlib.sha256(_canonical(event)).hexdigest():
                return f"event {number} was edited (its hash does not match)"
            if event.get("seq") != number:
                return f"event {number} has sequence number {event.get('seq')!r}"
            prev = event["hash"]
            seen += 1
    if seen < count:
        return f"history is truncated: {seen} of {count} events"
    if prev != head:
        return f"last event does not match the index (history head {head[:19]}…)"
    return None


def append(path: str, committed_bytes: int, events: list[dict]) -> int:
    """Append sealed events after the committed part of the file, dropping any
    uncommitted tail a crash left; return the file's new committed size."""
    data = b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in events)
    # Never through a link, never blocking on a FIFO: a planted one would send the events elsewhere.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise IntegrityError(f"history {path} is not a regular file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise IntegrityError(f"history {path} is {kind_of(mode)}, not a regular file")
        size = os.fstat(fd).st_size
        if size < committed_bytes:
            raise IntegrityError(f"history {path} is truncated ({size} of {committed_bytes} bytes)")
        if size > committed_bytes:
            os.ftruncate(fd, committed_bytes)
        os.lseek(fd, committed_bytes, os.SEEK_SET)
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if committed_bytes == 0:
        fsync_dir(os.path.dirname(path))
    return committed_bytes + len(data)
