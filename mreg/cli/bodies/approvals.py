"""approve, reject, approvals."""

from __future__ import annotations

from mreg.cli import output, settings
from mreg.cli.context import open_registry


def approve(ref: str, stage: str | None = None, env: str | None = None, reason: str = "",
            lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
            repo: str | None = None) -> None:
    _decide("approve", ref, stage, env, reason, lock_timeout, json=json, quiet=quiet, repo=repo)


def reject(ref: str, stage: str | None = None, env: str | None = None, reason: str = "",
           lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
           repo: str | None = None) -> None:
    _decide("reject", ref, stage, env, reason, lock_timeout, json=json, quiet=quiet, repo=repo)


# Each decision is the name of the Registry method that records it, and the word that reports it.
_DONE = {"approve": "approved", "reject": "rejected"}


def _decide(decision: str, ref: str, stage: str | None, env: str | None, reason: str, lock_timeout: float | None,
            *, json: bool, quiet: bool, repo: str | None) -> None:
    """Record an approval or a rejection, then print the record (JSON) or one line saying what was recorded."""
    registry = open_registry(repo, lock_timeout)
    record = getattr(registry, decision)(ref, stage=stage, env=env, reason=reason)
    if settings.wants_json(json):
        output.print_json(record)
    elif not quiet:
        target = f"environment {record['env']}" if "env" in record else record["stage"]
        until = f", valid until {record['expires_at']}" if record.get("expires_at") else ""
        print(f"{_DONE[decision]} {record['name']}@{record['version']} for {target} as {record['by']}{until}")


def approvals(ref: str, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    found = open_registry(repo).approvals(ref)
    if settings.wants_json(json):
        output.print_json(found)
        return
    if quiet:
        return
    _decisions_table(found)
    _targets_table(found["targets"])


def _decisions_table(found: dict) -> None:
    """Each approval and rejection of the version and how it stands (valid, expired, void)."""
    rows = [[r["decision"], r.get("stage") or f"env:{r['env']}", r["by"], r["at"], r["status"],
             r.get("expires_at") or "", r.get("void_reason") or r["reason"]] for r in found["approvals"]]
    if rows:
        output.table(["DECISION", "FOR", "BY", "AT", "STATUS", "EXPIRES", "REASON"], rows)
    elif output.stdout_is_terminal():
        output.message(f"{found['name']}@{found['version']} has no approvals or rejections")


def _targets_table(targets: list[dict]) -> None:
    """Each protected stage or environment: entered, what it still needs, or ready."""
    states = []
    for target in targets:
        where = target.get("stage") or f"env:{target['env']}"
        if target["entered"]:
            state = "entered"
        elif target["missing"]:
            state = "; ".join(target["missing"])
        else:
            state = f"ready: approved by {', '.join(target['approved_by'])}"
        states.append([where, state])
    if states:
        output.table(["FOR", "STATE"], states)
