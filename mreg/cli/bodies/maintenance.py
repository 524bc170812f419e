"""rm, gc, verify."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import datetime, timezone

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.errors import IntegrityError, RefusedError, UsageError


def rm(ref: str, all_versions: bool = False, force: bool = False, yes: bool = False, reason: str = "",
       lock_timeout: float | None = None, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo, lock_timeout)
    if all_versions and not yes:
        _confirm_whole_model(registry, ref, force=force, reason=reason)
    removed = registry.remove(ref, all_versions=all_versions, force=force, reason=reason)
    if settings.wants_json(json):
        output.print_json({"removed_versions": removed})
    elif not quiet:
        for label in removed:
            print(f"removed {label}")


def _confirm_whole_model(registry, ref: str, *, force: bool, reason: str) -> None:
    """Ask on the terminal before every version of a model goes; refuse without one."""
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


def gc(grace: str | None = None, archived_older_than: str | None = None, dry_run: bool = False,
       short_n: bool = False, remote: str | None = None, lock_timeout: float | None = None, json: bool = False,
       quiet: bool = False, repo: str | None = None) -> None:
    if short_n:
        # -n is --limit elsewhere (history, search); here it would have meant a dry run.
        raise UsageError("gc has no -n option", hint="use `mreg gc --dry-run` to see what would go")
    registry = open_registry(repo, lock_timeout)
    if remote is not None:
        if archived_older_than:
            raise UsageError("--archived-older-than works on the local registry, not with --remote")
        _print_remote_gc(registry.gc_remote(remote, grace=grace, dry_run=dry_run), dry_run=dry_run, json=json,
                         quiet=quiet)
        return
    with ExitStack() as bars:
        report = registry.gc(grace=grace, archived_older_than=archived_older_than, dry_run=dry_run,
                             progress_for=lambda total: bars.enter_context(output.progress(total, "collecting")))
    if settings.wants_json(json):
        output.print_json(report)
    elif not quiet:
        _print_gc(report, dry_run=dry_run)


def _print_remote_gc(done: dict, *, dry_run: bool, json: bool, quiet: bool) -> None:
    if settings.wants_json(json):
        output.print_json(done)
    elif not quiet:
        print(f"remote {done['remote']}: {'would free' if dry_run else 'freed'} {_objects(done['objects'])}, "
              f"{output.human_size(done['bytes'])}; marked {_objects(done['marked'])} unreferenced"
              + _leftovers(done.get("leftovers"), dry_run))


def _print_gc(report: dict, *, dry_run: bool) -> None:
    """Each version removed with its rule, each held one kept (stderr), then the summary line."""
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


def verify(ref: str | None = None, rebuild_index: bool = False, remote: str | None = None, json: bool = False,
           quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo)
    if remote is not None:
        if ref is not None:
            raise UsageError("verify --remote checks the whole remote; give no NAME or REF")
        report = registry.verify_remote(remote)
    else:
        with ExitStack() as bars:
            report = registry.verify(ref, rebuild_index=rebuild_index,
                                     progress_for=lambda total: bars.enter_context(output.progress(total, "verifying")))
    if settings.wants_json(json):
        if report["ok"]:
            output.print_json(report)
    elif not quiet:
        _print_verify(report)
    if not report["ok"]:
        count = len(report["problems"])
        error = IntegrityError(f"{count} problem{'s' if count != 1 else ''} found",
                               hint="see above; `mreg get` refuses corrupt artifacts")
        # With --json, the report goes out with the error, as one document.
        error.document = report
        raise error


def _print_verify(report: dict) -> None:
    """`ok: checked …`, or one line per problem with the versions it affects."""
    if report["ok"]:
        checked = report["checked"]
        versions, objects = checked["versions"], checked["objects"]
        print(f"ok: checked {versions} version{'' if versions == 1 else 's'}, "
              f"{objects} object{'' if objects == 1 else 's'}, {output.human_size(checked['bytes'])}")
        return
    for problem in report["problems"]:
        what = problem.get("object") or problem.get("file") or problem.get("snapshot")
        affects = f" (affects {', '.join(problem['versions'])})" if problem["versions"] else ""
        print(output.one_line(f"{what}: {problem['problem']}{affects}"))
