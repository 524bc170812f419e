"""site, ui: the registry in a browser (the generator is mreg/web/, imported only by their bodies)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import web as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, Quiet, Repo


@command(bodies.site)
def site(
    names: Annotated[Optional[list[str]], typer.Argument(metavar="[NAME]...", help="Only these models (default: every model).", autocompletion=complete.model_names)] = None,
    out: Annotated[str, typer.Option("--output", "-o", metavar="DIR", help="The folder to write the site to (created if missing).")] = ...,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Write the registry as a static website to DIR.

    Models, each version's metadata and files, metrics across versions as
    charts, stages, the history with its reasons, lineage, and two versions
    side by side. Every page is plain HTML with its own CSS and a little JavaScript, nothing
    fetched from the network: open DIR/index.html from disk, or publish DIR on
    any static host (a CI artifact, GitHub Pages). Building again rewrites only
    the pages whose content changed.

    \b
    Example:
      mreg site -o site/
      mreg site -o public/ sentiment segmenter
    """


@command(bodies.ui)
def ui(
    port: Annotated[Optional[int], typer.Option("--port", metavar="N", help="The port to listen on (default: a free one, printed).")] = None,
    host: Annotated[Optional[str], typer.Option("--host", metavar="ADDRESS", help="The address to listen on (default 127.0.0.1; anything else serves the registry to the network).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the index in the default web browser.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the address as one JSON document ({url, registry}) on stdout, then serve.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing (give --port to know where it listens).")] = False,
    repo: Repo = None,
) -> None:
    """Serve the registry's pages read-only on 127.0.0.1 until Ctrl-C.

    The same pages as `mreg site`, rendered from the registry as it is at
    each request, so a refresh shows the latest change; any two versions can
    be compared. It only reads: GET and HEAD, nothing else.

    \b
    Example:
      mreg ui
      mreg ui --port 8765 --open
    """
