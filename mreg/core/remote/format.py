"""The remote registry's format: what lives under which key, and how each document is checked.

```
mreg-remote.json                    format marker, created exclusively by `remote add` (last)
config.toml                         the registry's lifecycle and defaults, created exclusively (first)
objects/ab/cdef…                    every stored byte sequence, named by its SHA-256, as locally
models/NAME/_log/00000001.json      entry 1 of model NAME's log: the events of one commit
models/NAME/_snapshots/00000064.json  model NAME's index after entry 64 (derived: snapshots.py)
pushes/ID.json                      a running push's claim on the objects its entry will name (for gc)
gc/marks/TIME-ID.json               objects a gc run found unreferenced (deleted by a later run)
gc/sweep.json                       present while a gc run deletes objects
```
A log entry holds the sealed events of one commit, whose hash chain
continues the previous entry's (`prev` is the hash of that entry's last
event): concatenated, the entries are exactly the model's local history. An
entry is created exclusively, so two writers can never both add entry `n`;
objects are uploaded before the entry that names them. Nothing is ever
overwritten; only `gc --remote` deletes, and only objects.

Everything read from a remote is untrusted: keys are parsed back into valid
model names and entry numbers, documents are bounded in size and depth, and
every event is checked against the event schema and its hash chain
(IntegrityError, exit 3, naming the remote and the key).
"""

from __future__ import annotations

import json

from mreg.core.history import hash_of
from mreg.core.schema import GENESIS, event_fault, is_count, is_digest
from mreg.errors import IntegrityError, MregError

FORMAT = 1
MARKER = "mreg-remote.json"
CONFIG = "config.toml"
MAX_ENTRY = 16 << 20  # one commit's events; a register event carries metadata of at most 1 MiB
MAX_SMALL = 1 << 20  # the marker, the config, a mark or a claim
MAX_DEPTH = 64  # metadata nests at most 32 deep, inside a handful of levels of event
_LOG = "_log"  # `_` starts no name segment: a model `a` and a model `a/_log` cannot meet
_DIGITS = 8


def object_key(hexdigest: str) -> str:
    return f"objects/{hexdigest[:2]}/{hexdigest[2:]}"


def log_key(name: str, number: int) -> str:
    return f"models/{name}/{_LOG}/{number:0{_DIGITS}d}.json"


def parse_log_key(key: str) -> tuple[str, int] | None:
    """(model name, entry number) of a log entry's key; None for any other key under models/.

    A key that looks like an entry but names an invalid model is refused:
    a hostile remote cannot steer a name into a path.
    """
    from mreg.core.names import validate_name

    if not key.startswith("models/") or not key.endswith(".json"):
        return None
    head, sep, tail = key[len("models/"):-len(".json")].rpartition(f"/{_LOG}/")
    if not sep or len(tail) != _DIGITS or not tail.isascii() or not tail.isdigit():
        return None
    try:
        validate_name(head)
    except MregError as exc:
        raise IntegrityError(f"the remote holds a log under an invalid model name: {exc.message}") from None
    return head, int(tail)


def _depth_fault(value: object) -> bool:
    """Whether a decoded document nests deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def decode(data: bytes, what: str) -> dict:
    """A JSON object read from a remote, bounded in depth; IntegrityError naming `what` otherwise."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise IntegrityError(f"{what} is not valid JSON") from None
    if not isinstance(document, dict):
        raise IntegrityError(f"{what} is not a JSON object")
    if _depth_fault(document):
        raise IntegrityError(f"{what} is nested deeper than {MAX_DEPTH} levels")
    return document


def encode(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def encode_entry(name: str, number: int, prev: str, events: list[dict]) -> bytes:
    return encode({"format": FORMAT, "name": name, "entry": number, "prev": prev, "events": events})


def parse_entry(data: bytes, what: str, name: str, number: int, prev: str, seq: int) -> list[dict]:
    """The events of entry `number` of model `name`, checked: they must follow event `seq`, hash `prev`."""
    entry = decode(data, what)
    found = entry.get("format")
    if not is_count(found) or not found:
        raise IntegrityError(f"{what}: format: not a log entry format")
    if found > FORMAT:
        raise IntegrityError(f"{what} has format {found}, unknown to this mreg", hint="upgrade mreg: pip install -U mreg")
    if entry.get("name") != name or entry.get("entry") != number:
        raise IntegrityError(f"{what} does not hold entry {number} of model {name}")
    if not is_digest(entry.get("prev")) or entry["prev"] != prev:
        raise IntegrityError(f"{what} does not follow the entry before it (its prev is not that entry's last event)")
    events = entry.get("events")
    if not isinstance(events, list) or not events:
        raise IntegrityError(f"{what}: events: missing or empty")
    for event in events:
        seq += 1
        fault = event_fault(event, name)
        if fault is None and (event["seq"] != seq or event["prev"] != prev):
            fault = f"event {seq} does not follow the event before it"
        if fault is None:
            try:
                if hash_of(event) != event["hash"]:
                    fault = f"event {seq} was edited (its hash does not match)"
            except UnicodeEncodeError:
                fault = f"event {seq} holds text that is not valid UTF-8"
        if fault:
            raise IntegrityError(f"{what} is damaged: {fault}")
        prev = event["hash"]
    return events


def check_marker(data: bytes | None, url: str) -> None:
    """Refuse a location that holds no mreg remote, or one of a newer format."""
    from mreg.errors import NotFoundError

    if data is None:
        raise NotFoundError(f"no mreg remote registry at {url}", hint="create one with: mreg remote add NAME URL")
    marker = decode(data, f"{MARKER} of remote {url}")
    found = marker.get("format")
    if not is_count(found) or not found:
        raise IntegrityError(f"{MARKER} of remote {url}: format: not a remote format")
    if found > FORMAT:
        raise IntegrityError(f"remote {url} has format {found}, newer than this mreg understands ({FORMAT})",
                             hint="upgrade mreg: pip install -U mreg")


def marker() -> bytes:
    return encode({"format": FORMAT, "kind": "mreg remote registry"})


__all__ = ["GENESIS", "FORMAT", "MARKER", "CONFIG", "object_key", "log_key", "parse_log_key", "parse_entry",
           "encode_entry", "check_marker", "marker", "decode", "encode"]
