"""remote, push, pull, clone: sharing a registry through storage a team already runs."""

from __future__ import annotations

from contextlib import ExitStack

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.errors import ExitCode, RefusedError, UsageError


def _remote_and_names(registry, words: list[str] | None) -> tuple[str | None, list[str]]:
    """`[REMOTE] [NAME]…`: the first word is a remote when one is called so."""
    words = list(words or [])
    if words and words[0] in registry.config.remotes:
        return words[0], words[1:]
    return None, words


def remote(action: str, name: str | None = None, url: str | None = None,
           option: list[str] = [],  # noqa: B006 - never mutated
           single_writer: bool = False, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo)
    if action == "add":
        _remote_add(registry, name, url, option, single_writer, json=json, quiet=quiet)
    elif action in ("list", "ls"):
        if name or url:
            raise UsageError("remote list takes no arguments")
        _remote_list(registry, json=json, quiet=quiet)
    elif action in ("remove", "rm"):
        if not name or url:
            raise UsageError("remote remove needs a NAME (and nothing else)")
        _remote_remove(registry, name, json=json, quiet=quiet)
    else:
        raise UsageError(f"unknown remote action {action!r}: expected add, list or remove")


def _remote_add(registry, name: str | None, url: str | None, option: list[str], single_writer: bool, *,
                json: bool, quiet: bool) -> None:
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


def _remote_list(registry, *, json: bool, quiet: bool) -> None:
    rows = registry.remote_list()
    if settings.wants_json(json):
        output.print_json([{k: r[k] for k in ("name", "url", "default")} for r in rows])
    elif not quiet:
        for row in rows:
            print(output.one_line(f"{row['name']}\t{row['url']}{'  (default)' if row['default'] else ''}"))


def _remote_remove(registry, name: str, *, json: bool, quiet: bool) -> None:
    result = registry.remote_remove(name)
    if settings.wants_json(json):
        output.print_json(result)
    elif not quiet:
        output.message(output.one_line(f"removed remote {name} ({result['url']})"))


def push(words: list[str] | None = None, rebase: bool = False, lock_timeout: float | None = None,
         json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo, lock_timeout)
    remote_name, names = _remote_and_names(registry, words)
    with ExitStack() as bars:
        report = registry.push(remote_name, names, rebase=rebase,
                               progress_for=lambda total: bars.enter_context(output.progress(total, "pushing")))
    if settings.wants_json(json):
        output.print_json(report)
    elif not quiet:
        _print_push(report)
    if report["rejected"]:
        _refuse_rejected(report["rejected"], json=json)


def _print_push(report: dict) -> None:
    """Renumbered versions and what was sent on stderr; one line per model pushed on stdout."""
    _print_renumbered(report)
    for name, count in report["pushed"].items():
        print(f"pushed {name}: {count} event{'' if count == 1 else 's'}")
    if not report["pushed"] and not report["rejected"]:
        output.message("nothing to push")
    if report["objects"]:
        output.message(f"sent {report['objects']} object{'' if report['objects'] == 1 else 's'}, "
                       f"{output.human_size(report['bytes'])}")


def _refuse_rejected(rejected: list[str], *, json: bool) -> None:
    """Exit 1 for the models the remote moved ahead on (the others were pushed)."""
    names = ", ".join(rejected)
    if settings.wants_json(json):
        # The report printed already names them: one JSON document on stdout, the error line on stderr.
        output.message(output.one_line(f"mreg: error: the remote has changes to {names} "
                                       "that this registry lacks; run `mreg pull`"))
        raise SystemExit(ExitCode.REFUSED)
    raise RefusedError(f"the remote has changes to {names} that this registry lacks; nothing of those was pushed",
                       hint="run `mreg pull`, then push again (or push --rebase)")


def _print_renumbered(report: dict) -> None:
    for item in report["renumbered"]:
        output.message(f"renumbered {item['name']}@{item['from']} to {item['to']} (the remote took {item['from']})")


def pull(words: list[str] | None = None, lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
         repo: str | None = None) -> None:
    registry = open_registry(repo, lock_timeout)
    remote_name, names = _remote_and_names(registry, words)
    with ExitStack() as bars:
        report = registry.pull(remote_name, names,
                               progress_for=lambda total: bars.enter_context(output.progress(total, "pulling")))
    if settings.wants_json(json):
        output.print_json(report)
    elif not quiet:
        _print_renumbered(report)
        for name, count in report["pulled"].items():
            print(f"pulled {name}: {count} event{'' if count == 1 else 's'}")
        if not report["pulled"]:
            output.message("already up to date")


def clone(url: str, directory: str | None = None, option: list[str] = [],  # noqa: B006 - never mutated
          lazy: bool = False, json: bool = False, quiet: bool = False) -> None:
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
