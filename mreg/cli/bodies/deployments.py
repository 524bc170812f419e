"""deploy, undeploy, deployments."""

from __future__ import annotations

import sys

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.errors import UsageError


def deploy(ref: str, env: str, traffic: str | None = None, split: str | None = None, rollback: bool = False,
           reason: str = "", condition: str | None = None, if_missing: str = "fail", override: bool = False,
           lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
           repo: str | None = None) -> None:
    from mreg.core.split import parse_percent

    percent = parse_percent(traffic, "--traffic") if traffic is not None else None
    result = open_registry(repo, lock_timeout).deploy(ref, env, traffic=percent, split=split, rollback=rollback,
                                                      reason=reason, condition=condition, if_missing=if_missing,
                                                      override=override)
    _print_change(result, json=json, quiet=quiet)


def undeploy(ref: str, env: str, reason: str = "", lock_timeout: float | None = None, json: bool = False,
             quiet: bool = False, repo: str | None = None) -> None:
    result = open_registry(repo, lock_timeout).undeploy(ref, env, reason=reason)
    _print_change(result, json=json, quiet=quiet)


def _print_change(result: dict, *, json: bool, quiet: bool) -> None:
    """An environment's new split: JSON, or its line, with what left it and any drift on stderr."""
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


def deployments(name: str | None = None, env: str | None = None, at: str | None = None, format: str | None = None,
                json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo)
    if format is not None:
        _export(registry, name, env, at, format)
        return
    found = registry.deployments(name, env=env, at=at)
    if settings.wants_json(json):
        output.print_json(found)
    elif quiet:
        return
    elif not found:
        print("no traffic recorded" + (f" at {at}" if at else ""), file=sys.stderr)
    else:
        _print_splits(found)


def _export(registry, name: str | None, env: str | None, at: str | None, format: str) -> None:
    """One split as a serving system's configuration (--format)."""
    from mreg.core.ops.export import FORMATS

    if format not in FORMATS:
        raise UsageError(f"unknown --format {format!r}: choose json, kserve or sagemaker")
    if name is None or env is None:
        raise UsageError(f"--format {format} exports one split: give NAME and --env ENV",
                         hint=f"e.g. mreg deployments {name or 'NAME'} --env {env or 'prod'} --format {format}")
    output.print_json(registry.export_deployment(name, env, format, at=at))


def _print_splits(found: list[dict]) -> None:
    """One row per version serving somewhere, drift flagged."""
    rows = []
    for document in found:
        drifting = {item["version"]: item["stage"] for item in document["drift"]}
        for version, share in document["traffic"].items():
            note = f"drift: {drifting[version]}" if version in drifting else ""
            rows.append([document["name"], document["env"], version, f"{share}%", output.ago(document["since"]),
                         document["by"], note])
    output.table(["NAME", "ENV", "VERSION", "TRAFFIC", "SINCE", "BY", "DRIFT"], rows)
