"""transition, promote, rollback, check."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import lifecycle as bodies
from mreg.cli.commands import command
from mreg.cli.options import (Condition, IfMissing, Json, LockTimeout, ModelName, Override, Quiet, ReadRef, Reason,
                              Ref, Repo, Stage)


@command(bodies.transition)
def transition(
    ref: Ref,
    stage: Stage,
    reason: Reason = "",
    condition: Condition = None,
    if_missing: IfMissing = "fail",
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


@command(bodies.promote)
def promote(
    ref: Ref,
    to: Annotated[Optional[str], typer.Option("--to", metavar="STAGE", help="Walk every step up to this stage.", autocompletion=complete.stages)] = None,
    reason: Reason = "",
    condition: Condition = None,
    if_missing: IfMissing = "fail",
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
      mreg promote sentiment@latest --to production --if 'metrics.f1 > @production.metrics.f1' --if-missing pass
    """


@command(bodies.rollback)
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


@command(bodies.check)
def check(
    ref: ReadRef,
    condition: Annotated[str, typer.Argument(metavar="CONDITION", help="A search filter that may also read other versions of the model (@production.metrics.auc) and do arithmetic (+ - * /).")],
    if_missing: IfMissing = "fail",
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Evaluate a condition for one version, moving nothing.

    Exit 0 if it is true, 1 if it is false or unknown. The condition is the language of `mreg search` plus @SELECTOR.FIELD, a field
    of another version of the same model (a stage, a version, an alias or
    latest), and + - * / on numbers. A missing value makes it unknown.

    \b
    Example:
      mreg check sentiment@latest 'metrics.f1 > @production.metrics.f1 and size < @production.size * 1.2'
    """
