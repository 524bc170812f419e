"""diff."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.bodies import diff as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, Quiet, Repo

_REFS = "NAME@VERSION, NAME@latest, NAME@STAGE or NAME@ALIAS; a bare NAME is its latest version."


@command(bodies.diff)
def diff(
    left: Annotated[str, typer.Argument(metavar="REF", help=f"The version to compare from: {_REFS}", autocompletion=complete.references)],
    right: Annotated[str, typer.Argument(metavar="REF", help="The version to compare to (of the same model or another).", autocompletion=complete.references)],
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Compare two versions: metrics, params, tags, stage, size, files.

    Metrics show their change (up or down); params, tags and datasets show
    what was added, removed or changed; for two directory artifacts, the files
    added, removed and changed. Piped, each difference is one line: KEY, LEFT,
    RIGHT and CHANGE separated by tabs (files as files/PATH with their sizes).

    \b
    Example:
      mreg diff sentiment@production sentiment@latest
      mreg diff sentiment@1.0.0 sentiment@1.1.0 --json | jq '.metrics.accuracy.delta'
    """
