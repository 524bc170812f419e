"""show, list, ls, get, history, search."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import inspect as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, Quiet, ReadRef, Repo


@command(bodies.show)
def show(ref: ReadRef, json: Json = False, quiet: Quiet = False, repo: Repo = None) -> None:
    """Everything about one version, or a model's versions. With a bare NAME, every version of the model, newest first, with the metrics most of them have as columns (--json: the array of version documents).

    \b
    Example:
      mreg show sentiment@production
      mreg show sentiment            # every version
    """


@command(bodies.list_models, name="list")
def list_(json: Json = False, quiet: Quiet = False, repo: Repo = None) -> None:
    """Models: versions, latest, production, last change. For each model: how many versions, the latest, the one in production, and when it last changed.

    \b
    Example:
      mreg list
      mreg list --json | jq -r '.[].name'
    """


@command(bodies.list_models, name="ls", hidden=True)
def ls(json: Json = False, quiet: Quiet = False, repo: Repo = None) -> None:
    """Alias of `mreg list`.

    \b
    Example:
      mreg ls
    """


@command(bodies.get)
def get(
    ref: ReadRef,
    output_path: Annotated[Optional[str], typer.Option("--output", "-o", metavar="DEST", help="Where to write (default: the original file or folder name here).")] = None,
    path: Annotated[bool, typer.Option("--path", help="Print the stored read-only file of a single-file artifact instead of copying.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace DEST if it exists.")] = False,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Write a version's artifact to DEST, verifying every byte.

    \b
    Example:
      mreg get sentiment@production -o ./model.safetensors
      python serve.py --weights "$(mreg get sentiment@production --path)"
    """


@command(bodies.history)
def history(
    target: Annotated[Optional[str], typer.Argument(metavar="[NAME|REF]", help="A model or one version (default: the whole registry).", autocompletion=complete.references)] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="At most this many events.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="WHEN", help="Only events after this: 7d, 12h, or a date.")] = None,
    action: Annotated[list[str], typer.Option("--action", "-a", help="Only these actions (register, transition, promote, supersede, rollback, update, rm, gc, approve, reject, void, override); repeatable.")] = [],
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Events, newest first: who changed what, when and why.

    \b
    Example:
      mreg history sentiment --since 7d
      mreg history --action promote --action rollback -n 20
    """


@command(bodies.search)
def search(
    filter_text: Annotated[Optional[str], typer.Argument(metavar="[FILTER]", help="e.g. \"metrics.accuracy > 0.9 and tags.team = 'nlp'\".")] = None,
    sort: Annotated[Optional[str], typer.Option("--sort", metavar="FIELD", help="Sort by any field, metrics included.", autocompletion=complete.sort_fields)] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="At most this many versions.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", metavar="GLOB", help="Only models whose name matches.")] = None,
    stage: Annotated[Optional[str], typer.Option("--stage", "-s", help="Only versions in this stage.", autocompletion=complete.stages)] = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Versions matching a filter (see the README's filter language).

    \b
    Example:
      mreg search "metrics.accuracy >= 0.9 and created_at > -7d" --sort metrics.accuracy --desc
      mreg search "name like 'sent%' and version >= 1.10.0"
    """
