"""alias."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import aliases as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, LockTimeout, Quiet, Reason, Repo


@command(bodies.alias)
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
