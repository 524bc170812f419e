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

from mreg.core.fsutil import durable, fsync_dir, kind_of, open_regular_file, write_all
from mreg.core.schema import ACTIONS, GENESIS, event_fault  # noqa: F401 - ACTIONS and GENESIS are named from here
from mreg.errors import IntegrityError

_RECOVERY = "restore the model's folder from a backup; `mreg verify` lists what else is damaged"


def _canonical(event: dict) -> bytes:
    body = {k: v for k, v in event.items() if k != "hash"}
    # surrogatepass: a forged line may hold a lone surrogate (`\ud800`), which
    # must hash (to no sound event's hash) rather than crash; mreg never writes one.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def hash_of(event: dict) -> str:
    """The hash an event's `hash` field must hold (of its canonical JSON without that field)."""
    import hashlib

    return "sha256:" + hashlib.sha256(_canonical(event)).hexdigest()


def line_size(event: dict) -> int:
    """The bytes an event takes as a line of the history file."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()) + 1


def seal(event: dict, prev: str, seq: int) -> dict:
    """Chain an event after `prev` and compute its hash."""
    import hashlib  # here, not at the top: read-only commands never hash

    event = dict(event, seq=seq, prev=prev)
    event["hash"] = "sha256:" + hashlib.sha256(_canonical(event)).hexdigest()
    return event


def _open(path: str):
    """The history file for reading; None if missing. A link, folder or FIFO in its place is damage, not an I/O error."""
    try:
        fd, _ = open_regular_file(path, f"history {path}")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return os.fdopen(fd, "rb")


def _decode(line: bytes) -> object:
    """One history line as JSON, or None when it is not a JSON object (however deeply it nests)."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


def read_events(path: str, count: int, head: str | None = None, name: str | None = None) -> list[dict]:
    """The first `count` (committed) events of a model's history, oldest first.

    Each is checked against the event schema (and, given them, the model's
    name and the index's head hash), so a caller never meets a wrong type.
    """
    if count <= 0:
        return []
    events = []
    handle = _open(path)
    if handle is None:
        raise IntegrityError(f"history {path} is missing", hint=_RECOVERY)
    with handle:
        for line in handle:
            if len(events) == count:
                break
            event = _decode(line)
            fault = "not valid JSON (one object per line)" if event is None else event_fault(event, name)
            if fault is None and event["seq"] != len(events) + 1:
                fault = f"seq: {event['seq']} where {len(events) + 1} belongs"
            if fault:
                raise IntegrityError(f"history {path} is damaged at event {len(events) + 1}: {fault}", hint=_RECOVERY)
            events.append(event)
    if len(events) < count:
        raise IntegrityError(f"history {path} is truncated: {len(events)} of {count} events", hint=_RECOVERY)
    if head is not None and events[-1]["hash"] != head:
        raise IntegrityError(f"history {path} does not end at the index's history.head (event {count} differs)",
                             hint=_RECOVERY)
    return events


def check_chain(path: str, count: int, head: str, size: int | None = None) -> str | None:
    """Verify a history file against the index's count, head and (given) committed byte size;
    None if sound, else the first fault."""
    import hashlib

    prev = GENESIS
    seen = 0
    read = 0
    try:
        handle = _open(path)
    except IntegrityError as exc:
        return exc.message
    if handle is None:
        return "history file is missing" if count else None
    with handle:
        for number, line in enumerate(handle, start=1):
            if seen == count:
                break  # events past the head: an uncommitted operation, discarded on next write
            event = _decode(line)
            if event is None:
                return f"event {number} is not valid JSON (one object per line)"
            if event.get("prev") != prev:
                return f"event {number} does not follow event {number - 1} (deleted or reordered)"
            if event.get("hash") != "sha256:" + hashlib.sha256(_canonical(event)).hexdigest():
                return f"event {number} was edited (its hash does not match)"
            if event.get("seq") != number:
                return f"event {number} has sequence number {event.get('seq')!r}"
            fault = event_fault(event)
            if fault:
                return f"event {number}: {fault}"
            prev = event["hash"]
            seen += 1
            read += len(line)
    if seen < count:
        return f"history is truncated: {seen} of {count} events"
    if prev != head:
        return f"last event does not match the index (history head {head[:19]}…)"
    if size is not None and read != size:
        return f"its {count} events take {read} bytes, but the index's history.bytes says {size}"
    return None


def _check_committed(fd: int, path: str, committed_bytes: int, count: int, head: str) -> None:
    """Refuse to write after a committed part that is not what the index says it is.

    A writer truncates the file at `committed_bytes` to drop what a crash left
    past the last commit; if the file was edited since, that cut would fall in
    the middle of a real event. So the last committed line must end exactly at
    `committed_bytes` and hash to the index's head (one read of one line,
    whatever the history's length).
    """
    import hashlib

    if committed_bytes == 0:
        return
    start = committed_bytes
    tail = b""
    while True:
        # Read backwards until the newline that starts the last committed line.
        step = min(start, max(4096, len(tail)))
        start -= step
        tail = os.pread(fd, step, start) + tail
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut >= 0 or start == 0:
            break
    line = tail[cut + 1:]
    event = _decode(line) if line.endswith(b"\n") else None
    if (event is None or event.get("hash") != head or event.get("seq") != count
            or "sha256:" + hashlib.sha256(_canonical(event)).hexdigest() != head):
        raise IntegrityError(
            f"history {path} was changed after event {count}: its committed part no longer ends at the "
            f"index's history.bytes ({committed_bytes}) with the event history.head names; nothing was written",
            hint=_RECOVERY,
        )
    fault = event_fault(event)
    if fault:
        raise IntegrityError(f"history {path} is damaged at event {count}: {fault}; nothing was written",
                             hint=_RECOVERY)


def append(path: str, committed_bytes: int, events: list[dict], *, count: int, head: str) -> int:
    """Append sealed events after the committed part of the file (`count` events,
    `committed_bytes` long, the last hashing to `head`), dropping any uncommitted
    tail a crash left; return the file's new committed size."""
    data = b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in events)
    # Never through a link, never blocking on a FIFO: a planted one would send the events elsewhere.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise IntegrityError(f"history {path} is not a regular file", hint=_RECOVERY) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise IntegrityError(f"history {path} is {kind_of(mode)}, not a regular file", hint=_RECOVERY)
        size = os.fstat(fd).st_size
        if size < committed_bytes:
            raise IntegrityError(f"history {path} is truncated ({size} of {committed_bytes} bytes)", hint=_RECOVERY)
        _check_committed(fd, path, committed_bytes, count, head)
        if size > committed_bytes:
            os.ftruncate(fd, committed_bytes)
        os.lseek(fd, committed_bytes, os.SEEK_SET)
        write_all(fd, data)
        if durable(path):
            os.fsync(fd)
    finally:
        os.close(fd)
    if committed_bytes == 0:
        fsync_dir(os.path.dirname(path))
    return committed_bytes + len(data)
