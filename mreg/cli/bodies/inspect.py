"""show, list, ls, get, history, search."""

from __future__ import annotations

from contextlib import ExitStack

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.cli.render import show_history, show_version

# At most this many metric columns in `mreg show NAME`, so the table still fits a terminal.
MAX_METRIC_COLUMNS = 4


def show(ref: str, json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    shown = open_registry(repo, index_only=True).show(ref)  # a bare NAME: every version, lowest first
    if settings.wants_json(json):
        output.print_json(shown)
    elif quiet:
        return
    elif isinstance(shown, list):
        _version_table(shown)
    else:
        show_version(shown)


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


def get(ref: str, output_path: str | None = None, path: bool = False, force: bool = False, json: bool = False,
        quiet: bool = False, repo: str | None = None) -> None:
    registry = open_registry(repo)
    if path:
        _print_stored_path(registry, ref, output_path, json=json, quiet=quiet)
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


def _print_stored_path(registry, ref: str, output_path: str | None, *, json: bool, quiet: bool) -> None:
    """`get --path`: where the artifact is stored, copying nothing."""
    if output_path is not None:
        from mreg.errors import UsageError

        raise UsageError("--path prints where the artifact is stored; it does not go with -o/--output")
    stored = registry.object_path(ref)
    if settings.wants_json(json):
        output.print_json({"path": stored})
    elif not quiet:
        print(stored)


def history(target: str | None = None, limit: int | None = None, since: str | None = None, action: list[str] = [],
            json: bool = False, quiet: bool = False, repo: str | None = None) -> None:
    events = open_registry(repo).history(target, limit=limit, since=since, actions=list(action))
    if settings.wants_json(json):
        output.print_json(events)
        return
    if not quiet:
        show_history(events)


def search(filter_text: str | None = None, sort: str | None = None, desc: bool = False, limit: int | None = None,
           name: str | None = None, stage: str | None = None, json: bool = False, quiet: bool = False,
           repo: str | None = None) -> None:
    from mreg.core.query import FilterError

    registry = open_registry(repo, index_only=True)
    try:
        docs = registry.search(filter_text or "", sort=sort, descending=desc, limit=limit, name_glob=name, stage=stage)
    except FilterError as exc:
        # Show the filter with a caret under the fault, as hint lines (each
        # prefixed alike, so the caret stays under the right character).
        if exc.hint is None and exc.text:
            exc.hint = "\nhint: ".join(exc.pointer().split("\n"))
        raise
    if settings.wants_json(json):
        output.print_json(docs)
    elif not quiet:
        _search_table(docs, filter_text or "", sort)


def _search_table(docs: list[dict], filter_text: str, sort: str | None) -> None:
    """NAME, VERSION, STAGE, a column for each metadata field the filter or --sort reads, CREATED."""
    from mreg.core.metadata import SECTIONS
    from mreg.core.query import compile_filter, field_value

    extra = [f for f in compile_filter(filter_text).fields if f.split(".")[0] in SECTIONS]
    if sort and sort not in extra and sort.split(".")[0] in SECTIONS:
        extra.append(sort)
    output.table(
        ["NAME", "VERSION", "STAGE", *[f.upper() for f in extra], "CREATED"],
        [[d["name"], d["version"], d["stage"], *[_cell(field_value(d, f)) for f in extra], output.ago(d["created_at"])]
         for d in docs],
        styles={2: output.styled_stage},
    )


def _cell(value: object) -> str:
    return "" if value is None else output.number(value, terminal=output.stdout_is_terminal())
