"""What the commands on the fast path do, apart from their command-line declarations.

`register`, `get`, `diff`, `show`, `list` and `history` are the calls made most often, from CI jobs and
at the terminal. Kept free of typer so that the fast path (mreg/cli/fast.py)
can run them without importing it; the typer commands call the same
functions, with the same parameter names.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.cli.render import show_history, show_version


def show(ref: str, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo, index_only=True)
    shown = registry.show(ref)  # a bare NAME: every version, lowest first
    if settings.wants_json(json):
        output.print_json(shown)
    elif quiet:
        return
    elif isinstance(shown, list):
        _version_table(shown)
    else:
        show_version(shown)


# At most this many metric columns in `mreg show NAME`, so the table still fits a terminal.
MAX_METRIC_COLUMNS = 4


def main_metrics(docs: list[dict]) -> list[str]:
    """The metrics at least half the versions have, the most common first (ties: first seen)."""
    counts: dict[str, int] = {}
    for doc in docs:
        for key in doc.get("metrics") or {}:
            counts[key] = counts.get(key, 0) + 1
    common = [key for key, count in counts.items() if 2 * count >= len(docs)]
    return sorted(common, key=lambda key: -counts[key])[:MAX_METRIC_COLUMNS]


def _version_table(docs: list[dict]) -> None:
    metrics = main_metrics(docs)
    terminal = output.stdout_is_terminal()
    # Last, and only when the model has aliases: the columns before keep their places.
    aliases = any(d.get("aliases") for d in docs)
    output.table(
        ["VERSION", "STAGE", *[m.upper() for m in metrics], "SIZE", "CREATED", "BY", "DIGEST",
         *(["ALIASES"] if aliases else [])],
        [[d["version"], d["stage"], *[_metric((d.get("metrics") or {}).get(m)) for m in metrics],
          output.human_size(d["size"]) if terminal else d["size"],
          output.ago(d["created_at"]), d["created_by"], d["digest"],
          *([",".join(d.get("aliases") or [])] if aliases else [])] for d in reversed(docs)],
        styles={1: output.styled_stage},
    )


def _metric(value: object) -> str:
    return "" if value is None else str(value)


def list_models(json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    rows = open_registry(repo, index_only=True).list()
    if settings.wants_json(json):
        output.print_json(rows)
        return
    if quiet:
        return
    if not rows and output.stdout_is_terminal():
        output.message("no models yet: mreg register NAME PATH")
        return
    output.table(
        ["NAME", "VERSIONS", "LATEST", "PRODUCTION", "UPDATED"],
        [[r["name"], r["versions"], r["latest"], r["production"] or "-", output.ago(r["updated_at"])] for r in rows],
    )


def history(target: str | None = None, limit: int | None = None, since: str | None = None, action=(),
            json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    events = open_registry(repo).history(target, limit=limit, since=since, actions=list(action))
    if settings.wants_json(json):
        output.print_json(events)
        return
    if not quiet:
        show_history(events)


def _total_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def register(name: str, path: str, version: str | None = None, bump: str | None = None, metric=(), param=(), tag=(),
             description: str | None = None, framework: str | None = None, dataset=(),
             metadata_file: str | None = None, stage: str | None = None, derived_from=(),
             follow_symlinks: bool = False, reason: str = "", if_changed: bool = False, override: bool = False,
             lock_timeout: float | None = None, json: bool = False,
             quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo, lock_timeout)
    total = _total_size(path) if os.path.exists(path) else 0
    with output.progress(total, f"storing {os.path.basename(path)}") as advance:
        doc = registry.register(
            name, path, version=version, bump=bump, metrics=list(metric), params=list(param), tags=list(tag),
            datasets=list(dataset), description=description, framework=framework, metadata_file=metadata_file,
            stage=stage, derived_from=list(derived_from), follow_symlinks=follow_symlinks, reason=reason,
            progress=advance, if_changed=if_changed, override=override,
        )
    if settings.wants_json(json):
        output.print_json(doc)
    elif not quiet:
        verb = "unchanged:" if doc.get("created") is False else "registered"
        print(f"{verb} {doc['name']}@{doc['version']} ({doc['stage']}, {doc['kind']}, "
              f"{output.human_size(doc['size'])}) {doc['digest']}")


def get(ref: str, output_path: str | None = None, path: bool = False, force: bool = False, json: bool = False,
        quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo)
    if path:
        if output_path is not None:
            from mreg.errors import UsageError

            raise UsageError("--path prints where the artifact is stored; it does not go with -o/--output")
        stored = registry.object_path(ref)
        if settings.wants_json(json):
            output.print_json({"path": stored})
        elif not quiet:
            print(stored)
        return
    with ExitStack() as bars:
        # One resolution for both the bytes and the document: a promote in
        # between must not make them name two different versions.
        done = registry.get_version(ref, output_path, force=force, progress_for=lambda doc: bars.enter_context(
            output.progress(doc["size"], f"writing {doc['name']}@{doc['version']}")))
    if settings.wants_json(json):
        output.print_json(done)
    elif not quiet:
        print(done["path"])


def diff(left: str, right: str, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    from mreg.cli.render import show_diff
    from mreg.core.ops.diff import diff as compare

    doc = compare(open_registry(repo), left, right)
    if settings.wants_json(json):
        output.print_json(doc)
    elif not quiet:
        show_diff(doc)
