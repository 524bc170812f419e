"""Replay: rebuild a model's index document from its history alone.

Every event records what it changed (`details`): a register event the whole
version record, a stage move its stage and `stage_changed_at`, an update the
values it set and the keys it unset, a deploy or undeploy the environment and
its split before and after, an alias move the alias and the version it
pointed at before and after, a removal the record it removed, and an
event that changed the list of released versions that list as it left it.
Applying the events in order gives the index the commits wrote, which
`mreg verify --rebuild-index` compares with the stored one.

Histories written by earlier versions of mreg lack these details; replaying
them raises `NotReplayable` naming the first event that cannot be applied.
"""

from __future__ import annotations

import copy
import json

from mreg.core.index import new_model


class NotReplayable(Exception):
    """An event that does not record enough to be applied (written by an earlier mreg)."""


def _stage_move(model: dict, event: dict) -> None:
    details = event["details"]
    record = model["versions"].get(event["version"])
    if record is None or "stage_changed_at" not in details:
        raise NotReplayable(f"event {event['seq']} ({event['action']}) records no stage_changed_at")
    record["stage"] = event["to"]
    record["stage_changed_at"] = details["stage_changed_at"]
    if "released" in details:
        model["released"] = list(details["released"])


def _register(model: dict, event: dict) -> None:
    record = event["details"].get("record")
    if not isinstance(record, dict):
        raise NotReplayable(f"event {event['seq']} (register) records no version record")
    model["versions"][event["version"]] = copy.deepcopy(record)


def _update(model: dict, event: dict) -> None:
    details = event["details"]
    record = model["versions"].get(event["version"])
    if record is None or not isinstance(details.get("set"), list) or not isinstance(details.get("unset"), list):
        raise NotReplayable(f"event {event['seq']} (update) records no values set and keys unset")
    for group, key, value in details["set"]:
        if key is None:
            record[group] = value
        else:
            record.setdefault(group, {})[key] = copy.deepcopy(value)
    for group, key in details["unset"]:
        del record.setdefault(group, {})[key]


def _remove(model: dict, event: dict) -> None:
    if event["version"] not in model["versions"]:
        raise NotReplayable(f"event {event['seq']} ({event['action']}) removes a version that is not there")
    del model["versions"][event["version"]]
    model["removed"].append(event["version"])


def _deploy(model: dict, event: dict) -> None:
    apply_split(model, event["details"]["env"], event["details"]["to"], event["time"], event["user"])


def apply_split(model: dict, env: str, split: dict, when: str, by: str) -> None:
    """Set environment `env`'s split in a model's index: the one place deployments change.

    An emptied environment goes, and `deployments` with it when it was the
    last: absent when empty, as in an index that never had any.
    """
    deployments = model.setdefault("deployments", {})
    if split:
        deployments[env] = {"traffic": dict(split), "since": when, "by": by}
    else:
        deployments.pop(env, None)
    if not deployments:
        del model["deployments"]


def _decision(model: dict, event: dict) -> None:
    from mreg.core import policy

    details = event["details"]
    record, withdraws = details.get("record"), details.get("withdraws")
    if not isinstance(record, dict) or not isinstance(withdraws, list) or record.get("decision") != event["action"]:
        raise NotReplayable(f"event {event['seq']} ({event['action']}) records no approval record")
    policy.add(model, copy.deepcopy(record), withdraws, event["time"])


def _void(model: dict, event: dict) -> None:
    from mreg.core import policy

    ids = event["details"].get("ids")
    if not isinstance(ids, list):
        raise NotReplayable(f"event {event['seq']} (void) records no approvals voided")
    policy.void(model, ids, event["time"], event["reason"])


def _nothing(model: dict, event: dict) -> None:
    """An override changes no state: the move it lets through is its own event."""


def _alias(model: dict, event: dict) -> None:
    """An alias set, moved or deleted: `details` names it and the version `before` and `after` (null: none)."""
    details = event["details"]
    alias, before, after = details.get("alias"), details.get("before"), details.get("after")
    aliases = model.get("aliases") or {}
    if not isinstance(alias, str) or aliases.get(alias) != before or (after is not None and after not in model["versions"]):
        raise NotReplayable(f"event {event['seq']} (alias) does not follow from the events before it")
    if after is None:
        aliases.pop(alias, None)
    else:
        aliases[alias] = after
    # Absent when empty, as the index writes it.
    if aliases:
        model["aliases"] = aliases
    else:
        model.pop("aliases", None)


_APPLY = {
    "register": _register,
    "transition": _stage_move,
    "promote": _stage_move,
    "supersede": _stage_move,
    "rollback": _stage_move,
    "update": _update,
    "rm": _remove,
    "gc": _remove,
    "deploy": _deploy,
    "undeploy": _deploy,
    "approve": _decision,
    "reject": _decision,
    "void": _void,
    "override": _nothing,
    "alias": _alias,
}


def apply(model: dict, events: list[dict]) -> dict:
    """`model` (an index document, changed in place) with further committed `events` applied, and its
    history summary moved past them: what pull does with a remote's new events."""
    for event in events:
        handler = _APPLY.get(event["action"])
        if handler is None:
            raise NotReplayable(f"event {event['seq']}: unknown action {event['action']!r}")
        try:
            handler(model, event)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise NotReplayable(f"event {event['seq']} ({event['action']}) cannot be applied: {exc}") from None
    if events:
        meta = model["history"]
        size = sum(len(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()) + 1 for e in events)
        model["history"] = {"events": meta["events"] + len(events), "bytes": meta["bytes"] + size,
                            "head": events[-1]["hash"]}
    return model


def rebuild(name: str, events: list[dict]) -> dict:
    """The index document of model `name` that `events` (its committed history, oldest first) produce."""
    model = new_model(name)
    for event in events:
        apply = _APPLY.get(event["action"])
        if apply is None:
            raise NotReplayable(f"event {event['seq']}: unknown action {event['action']!r}")
        try:
            apply(model, event)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise NotReplayable(f"event {event['seq']} ({event['action']}) cannot be applied: {exc}") from None
    if events:
        # Each line as the history writer wrote it: the committed size, as the index records it.
        size = sum(len(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()) + 1 for e in events)
        model["history"] = {"events": len(events), "bytes": size, "head": events[-1]["hash"]}
    return model


def differences(stored: dict, rebuilt: dict, path: str = "") -> list[str]:
    """Where two index documents differ, each as `FIELD: stored … , history gives …` (the first few)."""
    found: list[str] = []
    if isinstance(stored, dict) and isinstance(rebuilt, dict):
        for key in sorted(set(stored) | set(rebuilt), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in rebuilt:
                found.append(f"{where}: in the index, not in the history")
            elif key not in stored:
                found.append(f"{where}: in the history, not in the index")
            else:
                found += differences(stored[key], rebuilt[key], where)
    elif stored != rebuilt or type(stored) is not type(rebuilt):
        found.append(f"{path}: the index has {_short(stored)}, the history gives {_short(rebuilt)}")
    return found


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
