"""deploy, undeploy, deployments."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import deployments as bodies
from mreg.cli.commands import command
from mreg.cli.options import Condition, IfMissing, Json, LockTimeout, Override, Quiet, Reason, Ref, Repo

Env = Annotated[str, typer.Option("--env", "-e", metavar="ENV", help="The environment, e.g. prod (a-z, 0-9, _ and -).",
                                  autocompletion=complete.environments)]


@command(bodies.deploy)
def deploy(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME@VERSION; NAME alone with --split or --rollback.",
                                       autocompletion=complete.references)],
    env: Env,
    traffic: Annotated[Optional[str], typer.Option("--traffic", metavar="PCT", help="Share of ENV's traffic for REF, 1-100 (default 100); the others share the rest in proportion.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", metavar="V=PCT,...", help="Set the whole split, e.g. 1.2.0=90,1.3.0=10 (sums to 100).")] = None,
    rollback: Annotated[bool, typer.Option("--rollback", help="Return ENV to its split before its last change.")] = False,
    reason: Reason = "",
    condition: Condition = None,
    if_missing: IfMissing = "fail",
    override: Override = False,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Send a share of an environment's traffic to a version. Prints the split.

    The versions already in ENV share what is left in proportion (whole
    percentages summing to 100); one whose share rounds to 0 leaves, and is
    named. Promotion never moves traffic: deploy does.

    \b
    Example:
      mreg deploy sentiment@1.3.0 --env prod --traffic 10 --reason "canary"
      mreg deploy sentiment --env prod --split 1.2.0=50,1.3.0=50
      mreg deploy sentiment --env prod --rollback
    """


@command(bodies.undeploy)
def undeploy(
    ref: Ref,
    env: Env,
    reason: Reason = "",
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Take a version out of an environment; the others scale up to 100.

    Taking out the last version leaves the environment without traffic.

    \b
    Example:
      mreg undeploy sentiment@1.3.0 --env prod --reason "canary error rate"
    """


@command(bodies.deployments)
def deployments(
    name: Annotated[Optional[str], typer.Argument(metavar="[NAME]", help="One model (default: every model).",
                                                  autocompletion=complete.model_names)] = None,
    env: Annotated[Optional[str], typer.Option("--env", "-e", metavar="ENV", help="One environment.",
                                               autocompletion=complete.environments)] = None,
    at: Annotated[Optional[str], typer.Option("--at", metavar="TIME", help="The splits at a past time (2026-11-01T12:00Z, or -7d), replayed from the history.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", metavar="FORMAT", help="json, kserve or sagemaker: NAME's split in ENV as that system's configuration (JSON).",
                                                  autocompletion=complete.export_formats)] = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Which versions serve where, with their share of the traffic.

    A version that receives traffic but is no longer in a stage its
    environment allows (or is archived) is flagged as drift.

    \b
    Example:
      mreg deployments sentiment
      mreg deployments sentiment --env prod --at 2026-11-01T12:00Z
      mreg deployments sentiment --env prod --format kserve > isvc.json
    """
