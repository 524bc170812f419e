"""Approvals: the records a model's index keeps, and whether they let a version in.

A protected stage (`[policy.stages.STAGE]`) or environment (`[environments.ENV]`)
takes N approvals before a version enters it. Each `approve` or `reject` is a
record in the model's index (`approvals`, absent while empty) and an event in
its history. A record is bound to the version's metadata as it was approved
(`digest`): an `update` voids it, because what was reviewed is no longer what
would be released. A user has at most one standing record per version and
target: approving after rejecting withdraws the rejection, and the reverse.

Pure functions of the model and the rule, with no I/O: the operations call
them under the lock, replay calls them to rebuild the index, and `holds`
calls them to keep a version with pending approvals.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from mreg.core.version import METADATA_FIELDS

APPROVE, REJECT = "approve", "reject"
DECISIONS = (APPROVE, REJECT)
# How a record stands, as `mreg approvals` shows it.
VALID, EXPIRED, VOID = "valid", "expired", "void"


def metadata_digest(record: dict) -> str:
    """A digest of the metadata a user sets: what an approval is bound to."""
    fields = {key: record.get(key) for key in METADATA_FIELDS}
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def target_of(record: dict) -> tuple[str, str]:
    """("stage", STAGE) or ("env", ENV): what a record approves entry into."""
    return ("env", record["env"]) if "env" in record else ("stage", record["stage"])


def describe_target(kind: str, target: str) -> str:
    return f"environment {target}" if kind == "env" else target


def expires_at(now: str, expire: str) -> str | None:
    """When an approval given at `now` expires under a rule's `expire` (None: never)."""
    if not expire:
        return None
    from mreg.core.timeparse import format_time, parse_duration, parse_time

    return format_time(parse_time(now) + timedelta(seconds=parse_duration(expire)))


def status(record: dict, model: dict, now: str) -> str:
    """valid, expired or void: void once withdrawn, voided, or its version's metadata changed."""
    version = model["versions"].get(record["version"])
    if "void_at" in record or version is None or record["digest"] != metadata_digest(version):
        return VOID
    # A rejection stands until withdrawn or voided; only approvals run out.
    if record["decision"] == APPROVE and record.get("expires_at") and record["expires_at"] <= now:
        return EXPIRED
    return VALID


def records_for(model: dict, version: str, kind: str, target: str) -> list[dict]:
    return [r for r in model.get("approvals", ()) if r["version"] == version and target_of(r) == (kind, target)]


def standing(model: dict, version: str, kind: str, target: str, now: str) -> list[dict]:
    """The valid records for entering `target`, oldest first."""
    return [r for r in records_for(model, version, kind, target) if status(r, model, now) == VALID]


def new_record(model: dict, decision: str, version: str, kind: str, target: str, user: str, now: str,
               reason: str, expire: str) -> dict:
    """The record an approve or reject adds (not yet added)."""
    number = max((r["id"] for r in model.get("approvals", ())), default=0) + 1
    return {
        "id": number,
        "decision": decision,
        "version": version,
        kind: target,
        "by": user,
        "at": now,
        "reason": reason,
        "digest": metadata_digest(model["versions"][version]),
        "expires_at": expires_at(now, expire) if decision == APPROVE else None,
    }


def add(model: dict, record: dict, withdraws: list[int], now: str) -> None:
    """Append `record`, voiding the records it withdraws (its author's earlier ones)."""
    void(model, withdraws, now, f"withdrawn by {record['by']}'s {record['decision']}")
    model.setdefault("approvals", []).append(dict(record))


def void(model: dict, ids: list[int], now: str, why: str) -> None:
    for record in model.get("approvals", ()):
        if record["id"] in ids:
            record["void_at"] = now
            record["void_reason"] = why


def to_void_after_update(model: dict, version: str) -> list[int]:
    """The records of `version` an update has just unbound (their metadata digest no longer matches)."""
    digest = metadata_digest(model["versions"][version])
    return [r["id"] for r in model.get("approvals", ())
            if r["version"] == version and "void_at" not in r and r["digest"] != digest]


def missing(rule, model: dict, version: str, kind: str, target: str, now: str) -> tuple[list[str], list[dict]]:
    """What stands between `version` and `target` under `rule`: (problems in words, valid approvals).

    No problems means it may enter. An approval counts when it is valid and
    its author is still an allowed approver (the config may have changed since)
    and, where self-approval is forbidden, not the version's registrant.
    """
    records = standing(model, version, kind, target, now)
    registrant = model["versions"][version]["created_by"]
    counted: list[dict] = []
    problems: list[str] = []
    for record in records:
        if record["decision"] == REJECT:
            why = f": {record['reason']}" if record["reason"] else ""
            problems.append(f"rejected by {record['by']} at {record['at']}{why}")
        elif not rule.may_approve(record["by"]):
            problems.append(f"{record['by']}'s approval does not count: not an allowed approver")
        elif not rule.self_approval and record["by"] == registrant:
            problems.append(f"{record['by']}'s approval does not count: they registered it")
        elif record["by"] not in {r["by"] for r in counted}:
            counted.append(record)
    if len(counted) < rule.approvals:
        who = f"approved by {', '.join(r['by'] for r in counted)}" if counted else "no valid approvals"
        problems.insert(0, f"needs {rule.approvals} approval{'s' if rule.approvals > 1 else ''}, "
                           f"{who}: {rule.approvals - len(counted)} missing")
    return problems, counted


def pending(model: dict, version: str, now: str, entered) -> list[str]:
    """The targets with unexpired approvals `version` has not entered yet (`entered(kind, target)` says)."""
    found: list[str] = []
    for record in model.get("approvals", ()):
        if record["version"] != version or record["decision"] != APPROVE:
            continue
        kind, target = target_of(record)
        label = describe_target(kind, target)
        if label not in found and status(record, model, now) == VALID and not entered(kind, target):
            found.append(label)
    return found
