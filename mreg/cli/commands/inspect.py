"""show, list, get, history, search."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import actions, complete, output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, Quiet, ReadRef, Repo


@command()
def show(ref: ReadRef, json: Json = False, quiet: Quiet = False, repo: Repo = None) -> None:
    """Everything about one version, or a model's versions. With a bare NAME, every version of the model, newest first, with the metrics most of them have as columns (--json: the array of version documents).

    \b
    Example:
      mreg show sentiment@production
      mreg show sentiment            # every version
    """
    actions.show(ref, json, quiet, repo)


@command(name="list")
def list_(json: Json = False, quiet: Quiet = False, repo: Repo = None) -> None:
    """Models: versions, latest, production, last change. For each model: how many versions, the latest, the one in production, and when it last changed.

    \b
    Example:
      mreg list
      mreg list --json | jq -r '.[].name'
    """
    actions.list_models(json, quiet, repo)


@command(name="ls", hidden=True)
def ls(json: Json = False, quiet: Quiet = False, repo: Repo = None) -> None:
    """Alias of `mreg list`.

    \b
    Example:
      mreg ls
    """
    actions.list_models(json, quiet, repo)


@command()
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
    actions.get(ref, output_path, path=path, force=force, json=json, quiet=quiet, repo=repo)


@command()
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
    actions.history(target, limit=limit, since=since, action=action, json=json, quiet=quiet, repo=repo)


@command()
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
    from mreg.core.metadata import SECTIONS
    from mreg.core.query import FilterError, compile_filter, field_value

    registry = open_registry(repo, index_only=True)
    try:
        docs = registry.search(filter_text or "", sort=sort, descending=desc, limit=limit, name_glob=name, stage=stage)
    except FilterError as exc:
        # Show the filter with a caret under the fault, as hint lines (each
        # prefixed alike, so the caret stays under the right character).
        if exc.hint is None and exc.text:
            exc.hint = "\nhint: ".join(exc.pointer().split("\n"))
        raise
    if settings.wants_json(json):
        output.print_json(docs)
        return
    if quiet:
        return
    extra = [f for f in compile_filter(filter_text or "").fields if f.split(".")[0] in SECTIONS]
    if sort and sort not in extra and sort.split(".")[0] in SECTIONS:
        extra.append(sort)
    output.table(
        ["NAME", "VERSION", "STAGE", *[f.upper() for f in extra], "CREATED"],
        [[d["name"], d["version"], d["stage"], *[_cell(field_value(d, f)) for f in extra], output.ago(d["created_at"])]
         for d in docs],
        styles={2: output.styled_stage},
    )


def _cell(value: object) -> str:
    return "" if value is None else output.number(value, terminal=output.stdout_is_terminal())
