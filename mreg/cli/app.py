"""The typer app: global options and commands grouped in `mreg --help`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

SECTIONS = {
    "Registering": ["init", "register", "update"],
    "Lifecycle": ["transition", "promote", "rollback"],
    "Inspecting": ["show", "list", "ls", "get", "history", "search", "diff"],
    "Maintenance": ["rm", "gc", "verify"],
}


class SectionedGroup(TyperGroup):
    """Lists commands under headings (plain click formatting: no rich at start-up)."""

    def list_commands(self, ctx):
        order = [name for names in SECTIONS.values() for name in names]
        known = super().list_commands(ctx)
        return [n for n in order if n in known] + [n for n in known if n not in order]

    def format_commands(self, ctx, formatter) -> None:
        for section, names in SECTIONS.items():
            rows = []
            for name in names:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str(limit=formatter.width - 20)))
            if rows:
                with formatter.section(section):
                    formatter.write_dl(rows)


app = typer.Typer(
    cls=SectionedGroup,
    name="mreg",
    help="mreg — a git-like model registry: versioned, content-addressed models with a lifecycle and a history.",
    epilog="Run `mreg COMMAND --help` for a command's options and an example.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mreg import __version__

        print(f"mreg {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
) -> None:
    """mreg — a git-like model registry: versioned, content-addressed models with a lifecycle and a history."""


def command():
    """The click command behind the app (built once per process)."""
    from mreg.cli.commands import inspect, lifecycle, maintenance, registering  # noqa: F401

    return typer.main.get_command(app)
