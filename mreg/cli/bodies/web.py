"""site, ui: the registry in a browser (the generator is mreg/web/, imported only here)."""

from __future__ import annotations

import sys

from mreg.cli import output, settings
from mreg.cli.context import open_registry


# `out` is required yet comes after NAMES, as in the declaration: keyword-only (both callers pass names).
def site(names: list[str] | None = None, *, out: str, json: bool = False, quiet: bool = False,
         repo: str | None = None) -> None:
    from mreg.web import build_site

    result = build_site(open_registry(repo), out, names or None)
    if settings.wants_json(json):
        output.print_json(result)
    elif not quiet:
        index = f"{result['out'].rstrip('/')}/index.html"
        removed = f", {result['removed']} removed" if result["removed"] else ""
        print(f"{index}\t{result['pages']} pages, {result['written']} written, {result['unchanged']} unchanged{removed}")


def ui(port: int | None = None, host: str | None = None, open_browser: bool = False, json: bool = False,
       quiet: bool = False, repo: str | None = None) -> None:
    from mreg.web.server import make_server

    registry = open_registry(repo)
    registry.config  # a damaged registry is reported now, not at the first page
    server = make_server(lambda: open_registry(repo), host=host, port=port)
    url = _announce(server, registry.root, json=json, quiet=quiet)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _announce(server, root: str, *, json: bool, quiet: bool) -> str:
    """Say where the pages are served (the address on stdout, the rest on stderr); the address."""
    from mreg.web.server import is_loopback

    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}/"
    if not is_loopback(bound_host):
        print(f"mreg: warning: serving the registry to the network on {url}", file=sys.stderr)
    if settings.wants_json(json):
        output.print_json({"url": url, "registry": root})
        sys.stdout.flush()
    elif not quiet:
        print(url, flush=True)
    if not quiet:
        print(f"serving {root} read-only; Ctrl-C to stop", file=sys.stderr, flush=True)
    return url
