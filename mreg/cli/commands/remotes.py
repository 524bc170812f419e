"""remote, push, pull, clone: sharing a registry through storage a team already runs."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Optional

import typer

from mreg.cli import output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, LockTimeout, Quiet, Repo
from mreg.errors import RefusedError, UsageError

RemoteOption = Annotated[list[str], typer.Option("--option", metavar="K=V",
                                                 help="A backend option (endpoint_url=…, key_filename=…); repeatable.")]
Names = Annotated[Optional[list[str]], typer.Argument(metavar="[REMOTE] [NAME]...",
                                                      help="The remote (default: origin, else the first added), then models (default: all).")]


def _remote_and_names(registry, words: list[str] | None) -> tuple[str | None, list[str]]:
    """`[REMOTE] [NAME]…`: the first word is a remote when one is called so."""
    words = list(words or [])
    if words and words[0] in registry.config.remotes:
        return words[0], words[1:]
    return None, words


@command()
def remote(
    action: Annotated[str, typer.Argument(metavar="ACTION", help="add, list or remove.")],
    name: Annotated[Optional[str], typer.Argument(metavar="[NAME]", help="The remote's name (add, remove).")] = None,
    url: Annotated[Optional[str], typer.Argument(metavar="[URL]", help="Where it lives (add): a path, file://, s3://, sftp://, gs://, az://.")] = None,
    option: RemoteOption = [],  # noqa: B006 - typer reads the default
    single_writer: Annotated[bool, typer.Option("--single-writer", help="Accept storage that does not refuse a second create of one key (only one machine may write).")] = False,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Add, list or remove the remotes this registry pushes to.

    `remote add NAME URL`, `remote list`, `remote remove NAME`. `remote add` creates an empty remote registry at URL if there is none, and
    checks that the storage refuses a second create of one key.

    \b
    Example:
      mreg remote add origin /mnt/team/models
      mreg remote add origin s3://ml-models/registry --option endpoint_url=http://minio:9000
      mreg remote list --json
    """
    registry = open_registry(repo)
    if action == "add":
        if not name or not url:
            raise UsageError("remote add needs a NAME and a URL", hint="mreg remote add origin /mnt/team/models")
        result = registry.remote_add(name, url, options=option, single_writer=single_writer)
        if settings.wants_json(json):
            output.print_json(result)
        elif not quiet:
            made = "created a remote registry at" if result["created"] else "using the remote registry at"
            check = ("exclusive create honoured" if result["exclusive_create"]
                     else "exclusive create NOT honoured: one writer only")
            output.message(output.one_line(f"remote {name}: {made} {url} ({check})"))
    elif action in ("list", "ls"):
        if name or url:
            raise UsageError("remote list takes no arguments")
        rows = registry.remote_list()
        if settings.wants_json(json):
            output.print_json([{k: r[k] for k in ("name", "url", "default")} for r in rows])
        elif not quiet:
            for row in rows:
                print(output.one_line(f"{row['name']}\t{row['url']}{'  (default)' if row['default'] else ''}"))
    elif action in ("remove", "rm"):
        if not name or url:
            raise UsageError("remote remove needs a NAME (and nothing else)")
        result = registry.remote_remove(name)
        if settings.wants_json(json):
            output.print_json(result)
        elif not quiet:
            output.message(output.one_line(f"removed remote {name} ({result['url']})"))
    else:
        raise UsageError(f"unknown remote action {action!r}: expected add, list or remove")


@command()
def push(
    words: Names = None,
    rebase: Annotated[bool, typer.Option("--rebase", help="When the remote moved ahead on a model, pull it and push again (for CI).")] = False,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Send the objects and events that the remote lacks.

    Nothing on the remote is overwritten or deleted. A model the remote has
    moved ahead on is refused (exit 1: run `mreg pull`); the others are pushed.

    \b
    Example:
      mreg push
      mreg push origin sentiment --rebase
    """
    registry = open_registry(repo, lock_timeout)
    remote_name, names = _remote_and_names(registry, words)
    with ExitStack() as bars:
        report = registry.push(remote_name, names, rebase=rebase,
                               progress_for=lambda total: bars.enter_context(output.progress(total, "pushing")))
    if settings.wants_json(json):
        output.print_json(report)
    elif not quiet:
        for item in report["renumbered"]:
            output.message(f"renumbered {item['name']}@{item['from']} to {item['to']} (the remote took {item['from']})")
        for name, count in report["pushed"].items():
            print(f"pushed {name}: {count} event{'' if count == 1 else 's'}")
        if not report["pushed"] and not report["rejected"]:
            output.message("nothing to push")
        if report["objects"]:
            output.message(f"sent {report['objects']} object{'' if report['objects'] == 1 else 's'}, "
                           f"{output.human_size(report['bytes'])}")
    if report["rejected"] and settings.wants_json(json):
        # The document above already names them: one JSON document on stdout, the error line on stderr.
        output.message(output.one_line(f"mreg: error: the remote has changes to {', '.join(report['rejected'])} "
                                       "that this registry lacks; run `mreg pull`"))
        raise typer.Exit(1)
    if report["rejected"]:
        raise RefusedError(f"the remote has changes to {', '.join(report['rejected'])} that this registry lacks; "
                           "nothing of those was pushed", hint="run `mreg pull`, then push again (or push --rebase)")


@command()
def pull(
    words: Names = None,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Fetch and apply the remote's new events and objects.

    Local events not yet pushed are re-applied on top, every rule checked
    again; a version number the remote took meanwhile is renumbered (and
    reported) unless it was given with --version: then nothing changes (exit 1).

    \b
    Example:
      mreg pull
      mreg pull origin sentiment --json
    """
    registry = open_registry(repo, lock_timeout)
    remote_name, names = _remote_and_names(registry, words)
    with ExitStack() as bars:
        report = registry.pull(remote_name, names,
                               progress_for=lambda total: bars.enter_context(output.progress(total, "pulling")))
    if settings.wants_json(json):
        output.print_json(report)
    elif not quiet:
        for item in report["renumbered"]:
            output.message(f"renumbered {item['name']}@{item['from']} to {item['to']} (the remote took {item['from']})")
        for name, count in report["pulled"].items():
            print(f"pulled {name}: {count} event{'' if count == 1 else 's'}")
        if not report["pulled"]:
            output.message("already up to date")


@command()
def clone(
    url: Annotated[str, typer.Argument(metavar="URL", help="The remote: a path, file://, s3://, sftp://, gs://, az://.")],
    directory: Annotated[Optional[str], typer.Argument(metavar="[DIR]", help="The new project folder (default: the URL's last part).")] = None,
    option: RemoteOption = [],  # noqa: B006
    lazy: Annotated[bool, typer.Option("--lazy", help="Fetch objects only when get, verify or diff needs them.")] = False,
    json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Make a new registry from a remote, with the remote as origin.

    \b
    Example:
      mreg clone /mnt/team/models models
      mreg clone s3://ml-models/registry --lazy --option endpoint_url=http://minio:9000
    """
    from mreg.core.registry import clone as clone_registry

    with ExitStack() as bars:
        report = clone_registry(url, directory, options=option, lazy=lazy,
                                progress_for=lambda total: bars.enter_context(output.progress(total, "cloning")))
    if settings.wants_json(json):
        output.print_json(report)
    elif not quiet:
        versions = len(report["pulled"])
        output.message(output.one_line(f"cloned {url} into {report['path']}: {versions} model"
                                       f"{'' if versions == 1 else 's'}"
                                       f"{', objects fetched when needed' if lazy else ''}"))
