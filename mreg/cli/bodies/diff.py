"""diff."""

from __future__ import annotations

from mreg.cli import output, settings
from mreg.cli.context import open_registry


def diff(left: str, right: str, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    from mreg.cli.render import show_diff
    from mreg.core.ops.diff import diff as compare

    doc = compare(open_registry(repo), left, right)
    if settings.wants_json(json):
        output.print_json(doc)
    elif not quiet:
        show_diff(doc)
