"""approve, reject, approvals."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete, output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, LockTimeout, Quiet, Reason, ReadRef, Ref, Repo

StageOption = Annotated[Optional[str], typer.Option(
    "--stage", "-s", metavar="STAGE", help="The stage the version may then enter.", autocompletion=complete.stages)]
EnvOption = Annotated[Optional[str], typer.Option(
    "--env", metavar="ENV", help="Or the environment it may then be deployed to.")]


def _said(record: dict, verb: str, json: bool, quiet: bool) -> None:
    if settings.wants_json(json):
        output.print_json(record)
    elif not quiet:
        target = f"environment {record['env']}" if "env" in record else record["stage"]
        until = f", valid until {record['expires_at']}" if record.get("expires_at") else ""
        print(f"{verb} {record['name']}@{record['version']} for {target} as {record['by']}{until}")


@command()
def approve(
    ref: Ref,
    stage: StageOption = None,
    env: EnvOption = None,
    reason: Reason = "",
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Approve a version entering a protected stage or environment.

    You are MREG_USER, else git's user.email, else the login name. The
    approval is bound to the version's metadata: an update voids it.

    \b
    Example:
      mreg approve sentiment@1.3.0 --stage production --reason "reviewed the eval"
    """
    record = open_registry(repo, lock_timeout).approve(ref, stage=stage, env=env, reason=reason)
    _said(record, "approved", json, quiet)


@command()
def reject(
    ref: Ref,
    stage: StageOption = None,
    env: EnvOption = None,
    reason: Reason = "",
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Reject a version entering a protected stage or environment.

    A rejection blocks the version until its author approves it after all,
    or an update voids it. --reason is required.

    \b
    Example:
      mreg reject sentiment@1.3.0 --stage production --reason "no eval on the 2026 data"
    """
    record = open_registry(repo, lock_timeout).reject(ref, stage=stage, env=env, reason=reason)
    _said(record, "rejected", json, quiet)


@command()
def approvals(
    ref: ReadRef,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """List a version's approvals, how each stands, and what is missing.

    Each approval or rejection is valid, expired or void (withdrawn, or its
    version's metadata changed); below them, each protected stage or
    environment and what it still needs.

    \b
    Example:
      mreg approvals sentiment@1.3.0
    """
    found = open_registry(repo).approvals(ref)
    if settings.wants_json(json):
        output.print_json(found)
        return
    if quiet:
        return
    label = f"{found['name']}@{found['version']}"
    rows = [[r["decision"], r.get("stage") or f"env:{r['env']}", r["by"], r["at"], r["status"],
             r.get("expires_at") or "", r.get("void_reason") or r["reason"]] for r in found["approvals"]]
    if rows:
        output.table(["DECISION", "FOR", "BY", "AT", "STATUS", "EXPIRES", "REASON"], rows)
    elif output.stdout_is_terminal():
        output.message(f"{label} has no approvals or rejections")
    states = []
    for target in found["targets"]:
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
