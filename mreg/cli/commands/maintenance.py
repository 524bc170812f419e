"""rm, gc, verify."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli.bodies import maintenance as bodies
from mreg.cli.commands import command
from mreg.cli.options import Json, LockTimeout, Quiet, Reason, ReadRef, Repo


@command(bodies.rm)
def rm(
    ref: ReadRef,
    all_versions: Annotated[bool, typer.Option("--all", help="Remove every version of the model NAME.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Also remove a version in production, or one that receives traffic or that an alias points at (taken out of service and its aliases dropped first, recorded).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before removing a whole model.")] = False,
    reason: Reason = "",
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Remove a version, or a whole model with --all. The bytes go at the next gc.

    \b
    Example:
      mreg rm sentiment@1.0.3 --reason "trained on leaked data"
      mreg rm old-experiment --all --yes
    """


@command(bodies.gc)
def gc(
    grace: Annotated[Optional[str], typer.Option("--grace", metavar="DURATION", help="Keep unreferenced objects younger than this (default 24h, or [gc] grace).")] = None,
    archived_older_than: Annotated[Optional[str], typer.Option("--archived-older-than", metavar="DURATION", help="First remove versions archived for longer than this, e.g. 30d.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would go; change nothing.")] = False,
    short_n: Annotated[bool, typer.Option("-n", hidden=True)] = False,
    remote: Annotated[Optional[str], typer.Option("--remote", metavar="NAME", help="Collect on this remote instead: mark unreferenced objects now, delete those marked at least the grace period ago.")] = None,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Delete stored objects that no version references. Safe beside running registers.

    First it removes the versions that --archived-older-than and the
    [[retention]] rules of .mreg/config.toml select (never one in an exclusive
    stage, the newest of its model, or one held by an alias, traffic or a
    pending approval), each recorded with its rule. Without -q it prints each
    of them with its rule, then one summary line, with the time in UTC, for a
    cron log: what was freed, the versions removed, and the unreferenced
    objects still inside the grace period with the time they become collectable.
    An archived version that something holds is kept, and said so on stderr.

    \b
    Example:
      mreg gc --dry-run
      mreg gc --archived-older-than 30d
      0 3 * * *  cd /srv/models && /opt/mreg/bin/mreg gc -q   # cron: full path, from `command -v mreg`
    """


@command(bodies.verify)
def verify(
    ref: Annotated[Optional[str], typer.Argument(metavar="[NAME|REF]", help="One model (every version) or one version (default: everything).")] = None,
    rebuild_index: Annotated[bool, typer.Option("--rebuild-index", help="Also rebuild each index from its history, in memory, and report any difference from the stored index (writes nothing).")] = False,
    remote: Annotated[Optional[str], typer.Option("--remote", metavar="NAME", help="Check this remote instead: every log entry and snapshot, and every object re-hashed.")] = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Re-hash artifacts, check the index and the history. Exit 3 on any damage.

    \b
    Example:
      mreg verify
      mreg verify sentiment@production --json
      mreg verify --rebuild-index
    """
