"""The shape of every JSON document mreg reads back from `.mreg/`.

A registry may be edited by hand or copied from another machine, so nothing
read from `.mreg/` is trusted until it has been checked here: a model's
index, its history events, directory manifests, the lock's owner record and
the cache's entries. Each check returns None for a sound document, else one
line `FIELD: problem`; the reader turns that line into an IntegrityError
naming its file (or, for the disposable cache, into a rebuild). Every field a
command later uses is checked once, on load, so no command meets a wrong type.

Plain isinstance tests and nothing heavier: `show` and `list` run these on
every call. (`config.toml` has its own checks in config.py, next to the
defaults they mirror.)
"""

from __future__ import annotations

import re

from mreg.core.semver import is_canonical
from mreg.core.version import COUNT_FIELDS, OPTIONAL_TEXT, REQUIRED_TEXT
from mreg.core.version import SECTIONS as _SECTIONS

DIGEST_PREFIX = "sha256:"
GENESIS = DIGEST_PREFIX + "0" * 64  # the `prev` of a history's first event
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z", re.ASCII)
# As timeparse.format_time writes them: fixed width, so string order is time order.
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z", re.ASCII)
KINDS = ("file", "directory")
ACTIONS = ("register", "transition", "promote", "supersede", "rollback", "update", "rm", "gc",
           "deploy", "undeploy", "approve", "reject", "void", "override", "alias")
_EMPTY: dict = {}
_MAX_FLOAT = 1.7976931348623157e308  # sys.float_info.max: NaN and the infinities fall outside


def is_digest(value: object) -> bool:
    """Whether `value` is `sha256:` and 64 lower-case hex digits."""
    return isinstance(value, str) and _DIGEST.match(value) is not None


def is_count(value: object) -> bool:
    """A non-negative integer (JSON's true and false are not counts)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_time(value: object) -> bool:
    return isinstance(value, str) and _TIME.match(value) is not None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: object) -> bool:
    """Text that can be written out again (a lone surrogate from a `\\ud800` escape cannot)."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _versions_fault(field: str, value: object) -> str | None:
    if not isinstance(value, list):
        return f"{field}: not a list of versions"
    for item in value:
        if not isinstance(item, str) or not is_canonical(item):
            return f"{field}: {str(item)[:40]!r} is not a version number"
    return None


# --- the index: models/NAME/_index.json ---------------------------------------------

_TABLES = (*_SECTIONS, "lineage", "metadata")


def version_fault(version: str, record: object) -> str | None:
    """What is wrong with one version record of an index, or None.

    Written for speed (it runs for every version of every index read): the
    common, sound case costs a few microseconds.
    """
    where = f"versions.{version[:40]}"
    if not is_canonical(version):
        return f"{where}: is not a version number"
    if not isinstance(record, dict):
        return f"{where}: is not an object"
    get = record.get
    if get("version") != version:
        return f"{where}.version: holds a different version number"
    for key in REQUIRED_TEXT:
        value = get(key)
        if not value or not _text(value):
            return f"{where}.{key}: missing or not text"
    if not is_digest(get("digest")):
        return f"{where}.digest: missing or not sha256:<64 hex digits>"
    if get("kind") not in KINDS:
        return f"{where}.kind: missing or not 'file' or 'directory'"
    for key in COUNT_FIELDS:
        if not is_count(get(key)):
            return f"{where}.{key}: missing or not a count"
    if not is_time(get("created_at")):
        return f"{where}.created_at: missing or not a time such as 2026-01-31T12:00:00.000000Z"
    # Every later field is optional, but typed when present.
    value = get("stage_changed_at")
    if value is not None and not is_time(value):
        return f"{where}.stage_changed_at: not a time such as 2026-01-31T12:00:00.000000Z"
    for key in OPTIONAL_TEXT:
        value = get(key)
        if value is not None and not _text(value):
            return f"{where}.{key}: not text"
    value = get("parameters")
    if value is not None and not is_count(value):
        return f"{where}.parameters: not a count"
    value = get("dtypes")
    if value is not None:
        if not isinstance(value, list):
            return f"{where}.dtypes: not a list of text"
        for item in value:
            if not _text(item):
                return f"{where}.dtypes: not a list of text"
    for key in _TABLES:
        # Absent is empty, but null is not: `update` adds keys to the table it finds.
        if key in record and not isinstance(record[key], dict):
            return f"{where}.{key}: not an object"
    for key, value in get("metrics", _EMPTY).items():
        # JSON as Python reads it also holds NaN and Infinity, which no metric may be.
        if not _is_number(value) or (isinstance(value, float) and not -_MAX_FLOAT <= value <= _MAX_FLOAT):
            return f"{where}.metrics.{key[:40]}: not a finite number"
    for key, value in get("tags", _EMPTY).items():
        if not _text(value):
            return f"{where}.tags.{key[:40]}: not text"
    for key, value in get("datasets", _EMPTY).items():
        if not isinstance(value, dict):
            return f"{where}.datasets.{key[:40]}: not an object"
    lineage = get("lineage", _EMPTY)
    if "git_commit" in lineage and not _text(lineage["git_commit"]):
        return f"{where}.lineage.git_commit: not text"
    value = get("derived_from")
    if value is not None:
        # Absent in versions registered before lineage was recorded.
        if not isinstance(value, list):
            return f"{where}.derived_from: not a list of NAME@VERSION"
        for item in value:
            if not is_version_label(item):
                return f"{where}.derived_from: {str(item)[:60]!r} is not NAME@VERSION"
    return None


_LABEL = re.compile(r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*\Z", re.ASCII)


def is_version_label(value: object) -> bool:
    """Whether `value` is `NAME@VERSION` with a valid model name and a canonical version number."""
    if not isinstance(value, str):
        return False
    name, at, version = value.rpartition("@")
    return bool(at) and len(name) <= 200 and _LABEL.match(name) is not None and is_canonical(version)


def model_fault(model: object, name: str | None = None) -> str | None:
    """What is wrong with an index document (format already checked), or None."""
    if not isinstance(model, dict):
        return "document: not an object"
    if not _text(model.get("name")):
        return "name: missing or not valid UTF-8 text"
    if name is not None and model["name"] != name:
        return f"name: {model['name'][:80]!r} is not this model's name"
    versions = model.get("versions")
    if not isinstance(versions, dict):
        return "versions: missing or not an object"
    for version, record in versions.items():
        fault = version_fault(version, record)
        if fault:
            return fault
    for key in ("released", "removed"):
        fault = _versions_fault(key, model.get(key))
        if fault:
            return fault
    again = set(model["removed"]).intersection(versions)
    if again:
        return f"removed: lists {sorted(again)[0]}, which is still a version"
    if "deployments" in model:
        fault = deployments_fault(model["deployments"], versions)
        if fault:
            return fault
    if "approvals" in model:
        fault = approvals_fault(model["approvals"])
        if fault:
            return fault
    if "aliases" in model:
        fault = aliases_fault(model["aliases"], versions)
        if fault:
            return fault
    return history_meta_fault(model.get("history"), bool(versions or model["removed"]))


_ENVIRONMENT = re.compile(r"[a-z][a-z0-9_-]*\Z", re.ASCII)


def is_environment(value: object) -> bool:
    """An environment name: a-z, 0-9, `_` and `-`, starting with a letter."""
    return isinstance(value, str) and len(value) <= 100 and _ENVIRONMENT.match(value) is not None


def deployments_fault(deployments: object, versions: dict) -> str | None:
    """What is wrong with an index's `deployments` ({ENV: {traffic, since, by}}), or None.

    Absent when no environment has traffic, so present means non-empty; every
    split sums to 100 and names versions the model still has.
    """
    from mreg.core.split import is_split

    if not isinstance(deployments, dict) or not deployments:
        return "deployments: not an object of environments (absent when there are none)"
    for env, entry in deployments.items():
        where = f"deployments.{str(env)[:40]}"
        if not is_environment(env):
            return f"{where}: not an environment name"
        if not isinstance(entry, dict):
            return f"{where}: not an object"
        traffic = entry.get("traffic")
        if not is_split(traffic) or not traffic:
            return f"{where}.traffic: not versions with whole percentages 1-100 summing to 100"
        for version in traffic:
            if version not in versions:
                return f"{where}.traffic: {version} is not a version of the model"
        if not is_time(entry.get("since")):
            return f"{where}.since: missing or not a time such as 2026-01-31T12:00:00.000000Z"
        if not _text(entry.get("by")):
            return f"{where}.by: missing or not text"
    return None


def approval_fault(record: object, where: str = "approval") -> str | None:
    """What is wrong with one approval or rejection record (mreg/core/policy.py), or None."""
    if not isinstance(record, dict):
        return f"{where}: not an object"
    if not is_count(record.get("id")) or not record["id"]:
        return f"{where}.id: missing or not a positive integer"
    if record.get("decision") not in ("approve", "reject"):
        return f"{where}.decision: not 'approve' or 'reject'"
    if not isinstance(record.get("version"), str) or not is_canonical(record["version"]):
        return f"{where}.version: missing or not a version number"
    if ("stage" in record) == ("env" in record):
        return f"{where}: needs exactly one of stage and env"
    for key in ("stage", "env", "by", "reason", "void_reason"):
        if key in record and not _text(record[key]):
            return f"{where}.{key}: not text"
    if not record.get("by"):
        return f"{where}.by: missing"
    if not is_time(record.get("at")):
        return f"{where}.at: missing or not a time such as 2026-01-31T12:00:00.000000Z"
    if not is_digest(record.get("digest")):
        return f"{where}.digest: missing or not sha256:<64 hex digits>"
    if record.get("expires_at") is not None and not is_time(record["expires_at"]):
        return f"{where}.expires_at: not a time"
    if "void_at" in record and not is_time(record["void_at"]):
        return f"{where}.void_at: not a time"
    return None


def approvals_fault(records: object) -> str | None:
    if not isinstance(records, list) or not records:
        return "approvals: not a non-empty list (absent when there are none)"
    seen: set[int] = set()
    for number, record in enumerate(records):
        fault = approval_fault(record, f"approvals[{number}]")
        if fault:
            return fault
        if record["id"] in seen:
            return f"approvals[{number}].id: {record['id']} is used twice"
        seen.add(record["id"])
    return None


def _details_fault(action: str, details: dict) -> str | None:
    """What is wrong with the details of an approval event (the only ones replay needs checked here)."""
    if action in ("approve", "reject"):
        fault = approval_fault(details.get("record"), "details.record")
        if fault:
            return fault
        if details["record"]["decision"] != action:
            return f"details.record.decision: not {action!r}"
        withdraws = details.get("withdraws")
        if not isinstance(withdraws, list) or not all(is_count(i) for i in withdraws):
            return "details.withdraws: not a list of approval ids"
    elif action == "void":
        ids = details.get("ids")
        if not isinstance(ids, list) or not ids or not all(is_count(i) for i in ids):
            return "details.ids: not a list of approval ids"
    elif action == "override":
        if not isinstance(details.get("missing"), list) or not all(_text(m) for m in details["missing"]):
            return "details.missing: not a list of text"
    return None


def aliases_fault(aliases: object, versions: dict) -> str | None:
    """What is wrong with an index's `aliases` ({ALIAS: VERSION}, absent when there are none), or None."""
    from mreg.core.names import alias_fault

    if not isinstance(aliases, dict) or not aliases:
        return "aliases: not an object of aliases (absent when there are none)"
    for alias, version in aliases.items():
        fault = alias_fault(alias)
        if fault:
            return f"aliases.{alias[:40]}: not an alias name: {fault}"
        if not isinstance(version, str) or version not in versions:
            return f"aliases.{alias}: {str(version)[:40]!r} is not a version of this model"
    return None


def history_meta_fault(meta: object, has_events: bool = True) -> str | None:
    """What is wrong with an index's `history` (count, bytes and head of the committed events), or None."""
    if not isinstance(meta, dict):
        return "history: missing or not an object"
    events, size, head = meta.get("events"), meta.get("bytes"), meta.get("head")
    if not is_count(events):
        return f"history.events: {str(events)[:40]} is not a count"
    if not is_count(size):
        return f"history.bytes: {str(size)[:40]} is not a count"
    if not is_digest(head):
        return "history.head: missing or not sha256:<64 hex digits>"
    if events == 0 and (size or head != GENESIS):
        return "history.events: 0, but history.bytes or history.head says there are events"
    # Every event is a JSON object on its own line: a few dozen bytes at the very least.
    if events and (size < 2 * events or head == GENESIS):
        return f"history.bytes: {size} bytes cannot hold {events} events ending at history.head"
    if has_events and not events:
        # Each version came with a register event: an index with versions and no history was edited.
        return "history.events: 0, yet the model has versions"
    return None


# --- the history: models/NAME/_history.jsonl ------------------------------------------

_EVENT_TEXT = ("time", "user", "action", "name", "reason")
_EVENT_OPTIONAL = ("version", "from", "to")


def event_fault(event: object, name: str | None = None) -> str | None:
    """What is wrong with one decoded history line, or None (the chain is checked elsewhere)."""
    if not isinstance(event, dict):
        return "not a JSON object"
    for key in _EVENT_TEXT:
        if not _text(event.get(key)):
            return f"{key}: missing or not text"
    if not is_time(event["time"]):
        return "time: not a time such as 2026-01-31T12:00:00.000000Z"
    if event["action"] not in ACTIONS:
        return f"action: {event['action'][:40]!r} is not one of {', '.join(ACTIONS)}"
    if name is not None and event["name"] != name:
        return f"name: {event['name'][:80]!r} is not this model"
    for key in _EVENT_OPTIONAL:
        # Present in every event mreg writes, null where it does not apply.
        if key not in event:
            return f"{key}: missing (null where it does not apply)"
        if event[key] is not None and not _text(event[key]):
            return f"{key}: not text"
    if not isinstance(event.get("details"), dict):
        return "details: missing or not an object"
    if event["action"] in ("deploy", "undeploy"):
        from mreg.core.split import is_split

        details = event["details"]
        if not is_environment(details.get("env")):
            return "details.env: missing or not an environment name"
        for key in ("from", "to"):
            if not is_split(details.get(key)):
                return f"details.{key}: missing or not a split (versions with percentages summing to 100)"
    fault = _details_fault(event["action"], event["details"])
    if fault:
        return fault
    if event["action"] == "alias":
        fault = _alias_details_fault(event["details"])
        if fault:
            return fault
    if not is_count(event.get("seq")) or not event["seq"]:
        return "seq: missing or not a positive integer"
    for key in ("prev", "hash"):
        if not is_digest(event.get(key)):
            return f"{key}: missing or not sha256:<64 hex digits>"
    return None


def _alias_details_fault(details: dict) -> str | None:
    """An `alias` event names the alias and the version before and after (null: none), one at least."""
    from mreg.core.names import alias_fault

    alias = details.get("alias")
    if alias_fault(alias) is not None:
        return f"details.alias: {str(alias)[:40]!r} is not an alias name"
    for key in ("before", "after"):
        value = details.get(key, "")
        if value is not None and not (isinstance(value, str) and is_canonical(value)):
            return f"details.{key}: {str(value)[:40]!r} is not a version number or null"
    if details["before"] is None and details["after"] is None:
        return "details: an alias event with no version before or after"
    return None


# --- directory manifests (objects) ---------------------------------------------------

def manifest_fault(document: object, max_format: int) -> str | None:
    """What is wrong with a decoded manifest, or None: every path relative, inside, listed once."""
    if not isinstance(document, dict):
        return "not a JSON object"
    version = document.get("format")
    if not is_count(version) or version > max_format:
        return f"format: {str(version)[:40]} is not a manifest format this mreg knows"
    files = document.get("files")
    if not isinstance(files, list):
        return "files: missing or not a list"
    seen: set[str] = set()
    directories: set[str] = set()
    for number, entry in enumerate(files, start=1):
        if not isinstance(entry, dict):
            return f"files[{number}]: not an object"
        path = entry.get("path")
        fault = _path_fault(path)
        if fault:
            return f"files[{number}].path: {fault}"
        if not is_digest(entry.get("digest")):
            return f"files[{number}].digest: missing or not sha256:<64 hex digits>"
        if not is_count(entry.get("size")):
            return f"files[{number}].size: missing or not a count"
        if not isinstance(entry.get("executable", False), bool):
            return f"files[{number}].executable: not true or false"
        if path in seen:
            return f"files[{number}].path: lists {path[:80]!r} twice"
        if path in directories:
            return f"files[{number}].path: {path[:80]!r} is used both as a file and as a folder"
        seen.add(path)
        parts = path.split("/")
        for i in range(1, len(parts)):
            directories.add("/".join(parts[:i]))
    clash = seen & directories
    if clash:
        return f"files: {sorted(clash)[0][:80]!r} is used both as a file and as a folder"
    return None


def _path_fault(path: object) -> str | None:
    if not isinstance(path, str):
        return "missing or not text"
    if not _text(path):
        return f"unsafe path {path[:80].encode('utf-8', 'replace').decode()!r}: not valid UTF-8"
    if not path or "\x00" in path or "\\" in path or path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
        return f"unsafe path {path[:80]!r}"
    return None


# --- the lock's owner record: lock.json ---------------------------------------------

def lock_info_fault(info: object) -> str | None:
    """What is wrong with lock.json, or None. It only names the holder, so a bad one is never fatal."""
    if not isinstance(info, dict):
        return "not a JSON object"
    pid, host, since = info.get("pid"), info.get("host"), info.get("since")
    if not is_count(pid) or not 0 < pid < 2**31:
        return "pid: not a process id"
    if not _text(host):
        return "host: not text"
    if not _is_number(since) or not 0 <= since < 2**40:
        return "since: not a time in seconds"
    command = info.get("command")
    if command is not None and not _text(command):
        return "command: not text"
    return None


# --- the cache: derived, so a fault means "rebuild", never an error --------------------

def summary_fault(summary: object) -> str | None:
    """What is wrong with a cached `list` summary of one model (None is a model without versions)."""
    if summary is None:
        return None
    if not isinstance(summary, dict):
        return "not an object"
    if not is_count(summary.get("versions")):
        return "versions: not a count"
    if not _text(summary.get("latest")):
        return "latest: not text"
    first = summary.get("first_in_stage")
    if not isinstance(first, dict) or not all(_text(v) for v in first.values()):
        return "first_in_stage: not an object of versions"
    if not is_time(summary.get("updated_at")):
        return "updated_at: not a time"
    return None
