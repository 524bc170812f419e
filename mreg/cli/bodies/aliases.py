"""alias."""

from __future__ import annotations

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.errors import UsageError


def alias(ref: str, name: str | None = None, delete: bool = False, reason: str = "",
          lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
          repo: str | None = None) -> None:
    registry = open_registry(repo, lock_timeout)
    if name is None:
        _refuse_options_of_a_change(ref, delete, reason)
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


def _refuse_options_of_a_change(ref: str, delete: bool, reason: str) -> None:
    """Without an ALIAS the command lists: --delete, a version or --reason mean the user wanted a change."""
    if delete:
        raise UsageError("--delete needs the ALIAS to delete", hint=f"mreg alias {ref} ALIAS --delete")
    if "@" in ref:
        raise UsageError(f"give the ALIAS to point at {ref}",
                         hint=f"mreg alias {ref} ALIAS; mreg alias {ref.partition('@')[0]} lists the aliases")
    if reason:
        raise UsageError("--reason is recorded with a change; listing the aliases changes nothing",
                         hint=f"mreg alias {ref}@VERSION ALIAS --reason …")


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
