"""The typer app: global options and commands grouped in `mreg --help`."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

SECTIONS = {
    "Registering": ["init", "register", "update"],
    "Lifecycle": ["transition", "promote", "rollback", "check", "alias", "approve", "reject", "approvals"],
    "Inspecting": ["show", "list", "ls", "get", "history", "search", "diff", "lineage"],
    "Deployments": ["deploy", "undeploy", "deployments"],
    "Maintenance": ["rm", "gc", "verify"],
    "Web": ["site", "ui"],
    "Sharing": ["remote", "push", "pull", "clone"],
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
                # The summary is the docstring's first sentence, whole: on a
                # narrow terminal it wraps rather than ending in "...".
                rows.append((name, cmd.get_short_help_str(limit=1000)))
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


def _repo(value: Optional[str]) -> Optional[str]:
    # `mreg --repo PATH COMMAND …` (as git's -C). The entry point usually takes
    # it off the command line first; this covers the app run any other way.
    if value:
        from mreg.cli import repo

        repo.use_leading(value)
    return value


@app.callback()
def root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
    repo: Annotated[
        Optional[str],
        typer.Option("--repo", metavar="PATH", callback=_repo,
                     help="Registry to use for the command (default: $MREG_REPO, else the nearest .mreg/ upward)."),
    ] = None,
) -> None:
    """mreg — a git-like model registry: versioned, content-addressed models with a lifecycle and a history."""


def command(argv: Optional[list[str]] = None):
    """The click command behind the app (built once per process).

    When the command line names one command, only that command is built:
    typer turns every command's signature into click parameters, about 1-2 ms
    each, paid on every call and every TAB press. `mreg --help`, a bare
    `mreg`, an unknown command and completing a command's name build them all.
    """
    from mreg.cli import shells

    _attach()

    everything = app.registered_commands
    wanted = _invoked(argv or [], {_command_name(info): info for info in everything})
    if wanted is not None:
        app.registered_commands = [wanted]
    try:
        return typer.main.get_command(app)
    finally:
        app.registered_commands = everything
        # typer registers its completion classes while building the command.
        shells.install()


_attached = False


def _attach() -> None:
    """Attach the commands the modules under mreg/cli/commands declare (once)."""
    global _attached
    if _attached:
        return
    from mreg.cli.commands import (aliases, approvals, declared, deployments, diff, inspect, lifecycle, lineage,
                                   maintenance, registering, remotes, web)

    for module in (diff, inspect, lifecycle, lineage, maintenance, registering, aliases, approvals, deployments,
                   remotes, web):
        for function, name, settings in declared(module):
            app.command(name, **settings)(function)
    _attached = True


def _command_name(info) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


def _invoked(argv: list[str], known: dict):
    """The CommandInfo the command line (or a bash TAB) runs, if it certainly names one."""
    if os.environ.get("_MREG_COMPLETE"):
        if os.environ["_MREG_COMPLETE"] != "complete_bash":
            return None  # zsh, fish, powershell: build everything
        from mreg.cli import bashline

        argv = bashline.split(bashline.line())[0]  # only the words already complete
    from mreg.cli import repo

    i = 0
    while i < len(argv):
        word = argv[i]
        found = repo.at(argv, i)
        if found is not None:
            i = found[1]
        elif word.startswith("-"):
            return None  # --help, --version, or a mistake: the whole app answers
        else:
            return known.get(word)
    return None
