"""alias."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete, output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, LockTimeout, Quiet, Reason, Repo
from mreg.errors import UsageError


@command()
def alias(
    ref: Annotated[str, typer.Argument(metavar="REF|NAME", help="The version to point at (NAME@VERSION, @STAGE, @latest, @ALIAS); a bare NAME lists or deletes.", autocompletion=complete.references)],
    name: Annotated[Optional[str], typer.Argument(metavar="[ALIAS]", help="The alias: a-z first, then a-z, 0-9, '_' or '-'; not a stage, 'latest' or a version.", autocompletion=complete.aliases)] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Delete ALIAS of the model NAME.")] = False,
    reason: Reason = "",
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Point a named alias such as champion at a version, or list them. NAME@ALIAS then names that version wherever a reference is taken. Setting an alias that points elsewhere moves it; each change is recorded in the history. With a bare NAME alone, lists the model's aliases.

    \b
    Example:
      mreg alias sentiment@1.3.0 champion --reason "won the A/B test"
      mreg alias sentiment              # ALIAS  VERSION
      mreg alias sentiment challenger --delete
    """
    registry = open_registry(repo, lock_timeout)
    if name is None:
        if delete:
            raise UsageError("--delete needs the ALIAS to delete", hint=f"mreg alias {ref} ALIAS --delete")
        if "@" in ref:
            raise UsageError(f"give the ALIAS to point at {ref}",
                             hint=f"mreg alias {ref} ALIAS; mreg alias {ref.partition('@')[0]} lists the aliases")
        if reason:
            raise UsageError("--reason is recorded with a change; listing the aliases changes nothing",
                             hint=f"mreg alias {ref}@VERSION ALIAS --reason …")
        _print_aliases(registry.aliases(ref), json=json, quiet=quiet)
        return
    if delete:
        done = registry.unalias(ref, name, reason)
    else:
        done = registry.alias(ref, name, reason)
    if settings.wants_json(json):
        output.print_json(done)
    elif not quiet:
        print(_moved(done))


def _moved(done: dict) -> str:
    """One line saying what moved: `moved sentiment@champion from 1.2.0 to 1.3.0`."""
    label = f"{done['name']}@{done['alias']}"
    version, previous = done["version"], done["previous"]
    if version is None:
        return f"deleted {label} (was {previous})"
    if previous is None:
        return f"set {label} to {version}"
    if previous == version:
        return f"{label} already points at {version}"
    return f"moved {label} from {previous} to {version}"


def _print_aliases(aliases: dict, *, json: bool, quiet: bool) -> None:
    if settings.wants_json(json):
        output.print_json([{"alias": alias, "version": version} for alias, version in aliases.items()])
        return
    if quiet:
        return
    if not aliases and output.stdout_is_terminal():
        output.message("no aliases yet: mreg alias NAME@VERSION ALIAS")
        return
    output.table(["ALIAS", "VERSION"], list(aliases.items()))
