"""remote, push, pull, clone: sharing a registry through storage a team already runs."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli.bodies import remotes as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, LockTimeout, Quiet, Repo

RemoteOption = Annotated[list[str], typer.Option("--option", metavar="K=V",
                                                 help="A backend option (endpoint_url=…, key_filename=…); repeatable.")]
Names = Annotated[Optional[list[str]], typer.Argument(metavar="[REMOTE] [NAME]...",
                                                      help="The remote (default: origin, else the first added), then models (default: all).")]


@command(bodies.remote)
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


@command(bodies.push)
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


@command(bodies.pull)
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


@command(bodies.clone)
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
