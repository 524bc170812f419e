"""rm, gc, verify."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from mreg.cli import output, settings
from mreg.cli.commands import command
from mreg.cli.context import open_registry
from mreg.cli.options import Json, LockTimeout, Quiet, Reason, ReadRef, Repo
from mreg.errors import IntegrityError, RefusedError, UsageError


@command()
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
    registry = open_registry(repo, lock_timeout)
    if all_versions and not yes:
        # Whatever would refuse the removal (a version in production) refuses it before anyone is asked.
        count = len(registry.remove(ref, all_versions=True, force=force, reason=reason, dry_run=True))
        if not sys.stdin.isatty():
            raise RefusedError(f"removing every version of {ref} needs --yes (no terminal to ask)")
        what = "the only version" if count == 1 else f"all {count} versions"
        print(f"Remove {what} of {ref}? [y/N]: ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()  # Ctrl-D (no answer) is a no; Ctrl-C stays an interruption
        if not answer.endswith("\n"):
            print(file=sys.stderr)
        if answer.strip().lower() not in ("y", "yes"):
            raise RefusedError("nothing removed")
    removed = registry.remove(ref, all_versions=all_versions, force=force, reason=reason)
    if settings.wants_json(json):
        output.print_json({"removed_versions": removed})
    elif not quiet:
        for label in removed:
            print(f"removed {label}")


@command()
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
    if short_n:
        # -n is --limit elsewhere (history, search); here it would have meant a dry run.
        raise UsageError("gc has no -n option", hint="use `mreg gc --dry-run` to see what would go")
    registry = open_registry(repo, lock_timeout)
    if remote is not None:
        if archived_older_than:
            raise UsageError("--archived-older-than works on the local registry, not with --remote")
        done = registry.gc_remote(remote, grace=grace, dry_run=dry_run)
        if settings.wants_json(json):
            output.print_json(done)
        elif not quiet:
            print(f"remote {done['remote']}: {'would free' if dry_run else 'freed'} {_objects(done['objects'])}, "
                  f"{output.human_size(done['bytes'])}; marked {_objects(done['marked'])} unreferenced"
                  + _leftovers(done.get("leftovers"), dry_run))
        return
    with ExitStack() as bars:
        report = registry.gc(grace=grace, archived_older_than=archived_older_than, dry_run=dry_run,
                             progress_for=lambda total: bars.enter_context(output.progress(total, "collecting")))
    if settings.wants_json(json):
        output.print_json(report)
        return
    if quiet:
        return
    for removal in report["removals"]:
        # The rule with each version, so a cron log says why it went.
        print(output.one_line(f"{'would remove' if dry_run else 'removed'} {removal['name']}@{removal['version']}: "
                              f"{removal['reason']}"))
    for held in report["held_versions"]:
        output.message(f"kept {held['name']}@{held['version']}, archived but held: {', '.join(held['holds'])}")
    print(gc_summary(report))


def gc_summary(report: dict, now: datetime | None = None) -> str:
    """`2026-11-30T03:00:00Z freed 2 objects, 1.0 KiB; removed 1 version; 3 objects, 12.4 KiB wait …`."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dry = report["dry_run"]
    versions = len(report["removed_versions"])
    line = (f"{moment} {'would free' if dry else 'freed'} {_objects(report['objects'])}, "
            f"{output.human_size(report['bytes'])}; {'would remove' if dry else 'removed'} "
            f"{versions} version{'' if versions == 1 else 's'}")
    held = len(report.get("held_versions") or ())
    if held:
        line += f"; kept {held} held version{'' if held == 1 else 's'}"
    pending = report["pending"]
    if pending["objects"]:
        line += (f"; {_objects(pending['objects'])}, {output.human_size(pending['bytes'])} wait out the grace "
                 f"period, collectable from {pending['collectable_at'][:19]}Z")
    return line


def _leftovers(found: dict | None, dry_run: bool) -> str:
    """`; removed 2 temporaries of killed uploads, 64.0 MiB (1 younger than the grace period kept)`, or nothing."""
    if not found or not (found["count"] or found["young"]):
        return ""
    line = (f"; {'would remove' if dry_run else 'removed'} {found['count']} "
            f"temporar{'y' if found['count'] == 1 else 'ies'} of killed uploads, {output.human_size(found['bytes'])}")
    return line + (f" ({found['young']} younger than the grace period kept)" if found["young"] else "")


def _objects(count: int) -> str:
    return f"{count} object{'' if count == 1 else 's'}"


@command()
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
    registry = open_registry(repo)
    if remote is not None:
        if ref is not None:
            raise UsageError("verify --remote checks the whole remote; give no NAME or REF")
        report = registry.verify_remote(remote)
    else:
        with ExitStack() as bars:
            report = registry.verify(ref, rebuild_index=rebuild_index, progress_for=lambda total: bars.enter_context(output.progress(total, "verifying")))
    if settings.wants_json(json):
        if report["ok"]:
            output.print_json(report)
    elif not quiet:
        checked = report["checked"]
        versions, objects = checked["versions"], checked["objects"]
        summary = (f"checked {versions} version{'' if versions == 1 else 's'}, "
                   f"{objects} object{'' if objects == 1 else 's'}, {output.human_size(checked['bytes'])}")
        if report["ok"]:
            print(f"ok: {summary}")
        else:
            for problem in report["problems"]:
                what = problem.get("object") or problem.get("file") or problem.get("snapshot")
                affects = f" (affects {', '.join(problem['versions'])})" if problem["versions"] else ""
                print(output.one_line(f"{what}: {problem['problem']}{affects}"))
    if not report["ok"]:
        count = len(report["problems"])
        error = IntegrityError(f"{count} problem{'s' if count != 1 else ''} found",
                               hint="see above; `mreg get` refuses corrupt artifacts")
        # With --json, the report goes out with the error, as one document.
        error.document = report
        raise error
