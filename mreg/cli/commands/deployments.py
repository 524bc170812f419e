"""deploy, undeploy, deployments."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from mreg.cli import complete, output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Condition, IfMissing, Json, LockTimeout, Override, Quiet, Reason, Ref, Repo
from mreg.errors import UsageError

Env = Annotated[str, typer.Option("--env", "-e", metavar="ENV", help="The environment, e.g. prod (a-z, 0-9, _ and -).",
                                  autocompletion=complete.environments)]


@command()
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
    from mreg.core.split import parse_percent

    percent = parse_percent(traffic, "--traffic") if traffic is not None else None
    result = open_registry(repo, lock_timeout).deploy(ref, env, traffic=percent, split=split, rollback=rollback,
                                                      reason=reason, condition=condition, if_missing=if_missing,
                                                      override=override)
    _print_change(result, ref, json=json, quiet=quiet)


@command()
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
    result = open_registry(repo, lock_timeout).undeploy(ref, env, reason=reason)
    _print_change(result, ref, json=json, quiet=quiet)


def _print_change(result: dict, ref: str, *, json: bool, quiet: bool) -> None:
    if settings.wants_json(json):
        output.print_json(result)
        return
    named = result.get("version")
    for version in result["left"]:
        if version == named:
            continue
        why = ""
        if named is not None and result["traffic"].get(named, 100) < 100:
            why = " (its share rounded to 0%)"
        print(output.one_line(f"note: {result['name']}@{version} left {result['env']}{why}"), file=sys.stderr)
    for item in result["drift"]:
        print(output.one_line(f"warning: drift: {result['name']}@{item['problem']}"), file=sys.stderr)
    if not result["changed"] and not quiet:
        print(f"{result['env']} already had this split; nothing changed", file=sys.stderr)
    if not quiet:
        print(output.one_line(f"{result['name']} in {result['env']}: {_split_text(result['traffic'])}"))


def _split_text(traffic: dict) -> str:
    from mreg.core.split import describe

    return describe(traffic)


@command()
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
    registry = open_registry(repo)
    if format is not None:
        from mreg.core.ops.export import FORMATS

        if format not in FORMATS:
            raise UsageError(f"unknown --format {format!r}: choose json, kserve or sagemaker")
        if name is None or env is None:
            raise UsageError(f"--format {format} exports one split: give NAME and --env ENV",
                             hint=f"e.g. mreg deployments {name or 'NAME'} --env {env or 'prod'} --format {format}")
        output.print_json(registry.export_deployment(name, env, format, at=at))
        return
    found = registry.deployments(name, env=env, at=at)
    if settings.wants_json(json):
        output.print_json(found)
        return
    if quiet:
        return
    if not found:
        print("no traffic recorded" + (f" at {at}" if at else ""), file=sys.stderr)
        return
    rows = []
    for document in found:
        drifting = {item["version"]: item["stage"] for item in document["drift"]}
        for version, share in document["traffic"].items():
            note = f"drift: {drifting[version]}" if version in drifting else ""
            rows.append([document["name"], document["env"], version, f"{share}%", output.ago(document["since"]),
                         document["by"], note])
    output.table(["NAME", "ENV", "VERSION", "TRAFFIC", "SINCE", "BY", "DRIFT"], rows)
