"""site, ui: the registry in a browser (the generator is mreg/web/, imported only here)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from mreg.cli import complete, output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, Quiet, Repo


@command()
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
    from mreg.web import build_site

    result = build_site(open_registry(repo), out, names or None)
    if settings.wants_json(json):
        output.print_json(result)
    elif not quiet:
        index = f"{result['out'].rstrip('/')}/index.html"
        removed = f", {result['removed']} removed" if result["removed"] else ""
        print(f"{index}\t{result['pages']} pages, {result['written']} written, {result['unchanged']} unchanged{removed}")


@command()
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
    from mreg.web.server import is_loopback, make_server

    registry = open_registry(repo)
    registry.config  # a damaged registry is reported now, not at the first page
    server = make_server(lambda: open_registry(repo), host=host, port=port)
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}/"
    if not is_loopback(bound_host):
        print(f"mreg: warning: serving the registry to the network on {url}", file=sys.stderr)
    if settings.wants_json(json):
        output.print_json({"url": url, "registry": registry.root})
        sys.stdout.flush()
    elif not quiet:
        print(url, flush=True)
    if not quiet:
        print(f"serving {registry.root} read-only; Ctrl-C to stop", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
