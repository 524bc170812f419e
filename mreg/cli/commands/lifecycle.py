"""transition, promote, rollback."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, LockTimeout, ModelName, Override, Quiet, Reason, Ref, Repo, Stage
from mreg.cli.render import print_version


@command()
def transition(
    ref: Ref,
    stage: Stage,
    reason: Reason = "",
    override: Override = False,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Move one version to STAGE, if the lifecycle table allows it.

    \b
    Example:
      mreg transition sentiment@1.3.0 archived --reason "superseded by 2.0"
    """
    doc = open_registry(repo, lock_timeout).transition(ref, stage, reason, override=override)
    print_version(doc, json=json, quiet=quiet, verb="moved")


@command()
def promote(
    ref: Ref,
    to: Annotated[Optional[str], typer.Option("--to", metavar="STAGE", help="Walk every step up to this stage.", autocompletion=complete.stages)] = None,
    reason: Reason = "",
    override: Override = False,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Move a version along the promotion path. One step, or every step up to --to.

    \b
    Example:
      mreg promote sentiment@1.3.0 --to production --reason "beats 1.2.0 on f1"
    """
    doc = open_registry(repo, lock_timeout).promote(ref, to, reason, override=override)
    print_version(doc, json=json, quiet=quiet, verb="promoted")


@command()
def rollback(
    name: ModelName,
    to: Annotated[Optional[str], typer.Option("--to", metavar="VERSION", help="An earlier production version to return to.")] = None,
    reason: Reason = "",
    override: Override = False,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Put the previous production version back. The current one goes to deprecated.

    \b
    Example:
      mreg rollback sentiment --reason "latency regression"
    """
    doc = open_registry(repo, lock_timeout).rollback(name, to, reason, override=override)
    print_version(doc, json=json, quiet=quiet, verb="rolled back to")
