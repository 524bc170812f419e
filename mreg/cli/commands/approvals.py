"""approve, reject, approvals."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import approvals as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, LockTimeout, Quiet, Reason, ReadRef, Ref, Repo

StageOption = Annotated[Optional[str], typer.Option(
    "--stage", "-s", metavar="STAGE", help="The stage the version may then enter.", autocompletion=complete.stages)]
EnvOption = Annotated[Optional[str], typer.Option(
    "--env", metavar="ENV", help="Or the environment it may then be deployed to.")]


@command(bodies.approve)
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


@command(bodies.reject)
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


@command(bodies.approvals)
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
