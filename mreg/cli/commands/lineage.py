"""lineage."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli.bodies import lineage as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, Quiet, ReadRef, Repo


@command(bodies.lineage)
def lineage(
    ref: ReadRef,
    depth: Annotated[Optional[int], typer.Option("--depth", metavar="N", help="Follow N levels each way (default: all).")] = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Where a version came from and what was derived from it. Its ancestors (the versions it was registered --from, and theirs) and its descendants (versions registered --from it, in any model), each with its stage, git commit and datasets. A version removed since is shown as removed.

    \b
    Example:
      mreg lineage sentiment-small@1.0.0
      mreg lineage sentiment@production --depth 1 --json
    """
