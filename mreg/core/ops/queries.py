"""Read-only questions: list, history, search."""

from __future__ import annotations

from collections.abc import Iterator

from mreg.core import index as index_mod
from mreg.core.history import read_events
from mreg.core.names import parse_reference
from mreg.core.repo import Repo, document, no_model
from mreg.core.semver import Version
from mreg.core.wording import name as spelled
from mreg.errors import UsageError


def _models(registry: Repo) -> Iterator[dict]:
    for name in registry.model_names():
        model = index_mod.load_model(registry.layout, name)
        if model is not None and model["versions"]:
            yield model


def list_models(registry: Repo) -> list[dict]:
    # Per-model summaries from the derived cache (mreg/core/cache/summaries.py): only
    # the index files that changed since the last reader are parsed again.
    from mreg.core.cache.summaries import model_summaries

    release = registry.lifecycle.release
    return [{
        "name": name,
        "versions": summary["versions"],
        "latest": summary["latest"],
        "production": summary["first_in_stage"].get(release),
        "updated_at": summary["updated_at"],
    } for name, summary in model_summaries(registry.layout, registry.model_names())]


def all_documents(registry: Repo) -> Iterator[dict]:
    for model in _models(registry):
        for record in model["versions"].values():
            yield document(model["name"], record)


def _model_events(registry: Repo, name: str) -> list[dict]:
    model = index_mod.load_model(registry.layout, name)
    if model is None:
        return []
    meta = model["history"]
    return read_events(registry.layout.history_path(name), meta["events"], meta["head"], name)


def _removed_version(registry: Repo, name: str, selector: str) -> str | None:
    """`selector` as a version that was removed: its events stay, to say who removed it and why."""
    from mreg.core.semver import is_version

    if not is_version(selector):
        return None
    model = index_mod.load_model(registry.layout, name)
    version = str(Version.parse(selector))
    return version if model is not None and version in model["removed"] else None


def history(registry: Repo, target: str | None = None, *, limit: int | None = None, since: str | None = None,
            actions: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """Events newest first; of one model (`NAME`), one version (`NAME@SEL`), or everything."""
    from mreg.core.history import ACTIONS
    from mreg.core.timeparse import format_time, parse_when

    for action in actions:
        if action not in ACTIONS:
            raise UsageError(f"unknown action {action!r}: actions are {', '.join(ACTIONS)}")
    if limit is not None and limit < 0:
        raise UsageError(f"{spelled('limit')} must be 0 or more")
    cutoff = format_time(parse_when(since)) if since else None
    version = None
    if target is None:
        names = registry.model_names()
    else:
        reference = parse_reference(target)  # validates the name
        names = [reference.name]
        if reference.selector is not None:
            version = _removed_version(registry, reference.name, reference.selector)
            if version is None:
                _, version = registry.lookup(reference)
        elif index_mod.load_model(registry.layout, reference.name) is None:
            raise no_model(reference.name)
    events: list[dict] = []
    for name in names:
        for event in _model_events(registry, name):
            if version is not None and event.get("version") != version:
                continue
            if cutoff is not None and event["time"] < cutoff:
                continue
            if actions and event["action"] not in actions:
                continue
            events.append(event)
    events.sort(key=lambda e: (e["time"], e["name"], e["seq"]), reverse=True)
    return events[:limit] if limit is not None else events


def search(registry: Repo, filter_text: str = "", *, sort: str | None = None, descending: bool = False,
           limit: int | None = None, name_glob: str | None = None, stage: str | None = None) -> list[dict]:
    from fnmatch import fnmatchcase

    from mreg.core.query import compile_filter
    from mreg.core.sorting import sort_documents

    matcher = compile_filter(filter_text or "")
    if stage is not None:
        registry.lifecycle.check_stage(stage)
    if limit is not None and limit < 0:
        raise UsageError(f"{spelled('limit')} must be 0 or more")
    if sort is not None:
        sort_documents([], sort)  # validate the key before reading anything
    import gc

    from mreg.core.cache.search import matching_documents

    def wanted(doc: dict) -> bool:
        if name_glob is not None and not fnmatchcase(doc["name"], name_glob):
            return False
        if stage is not None and doc["stage"] != stage:
            return False
        return matcher.matches(doc)

    # The filter sees only the fields it names, read from per-model columns
    # in the derived cache (mreg/core/cache/search.py); whole documents are decoded
    # for the matches alone. None of the objects made form cycles, so the
    # cyclic collector, which would re-walk them all again and again, waits.
    collecting = gc.isenabled()
    gc.disable()
    try:
        found = matching_documents(registry.layout, registry.model_names(), ["stage", *matcher.fields], wanted)
    finally:
        if collecting:
            gc.enable()
    if not found:
        _warn_unknown_keys(registry, matcher.fields)
    if sort is not None:
        found = sort_documents(found, sort, descending=descending)
    else:
        found.sort(key=lambda d: (d["name"], Version.parse(d["version"])), reverse=descending)
    return found[:limit] if limit is not None else found


def _warn_unknown_keys(registry: Repo, fields: list[str]) -> None:
    """A filter that matched nothing and names a key no version has (`metrics.acuracy`):
    say so, with the closest keys in use, rather than leave an empty result unexplained."""
    from difflib import get_close_matches

    from mreg.core import notices
    from mreg.core.query import parse_field

    wanted = [(field, parse_field(field)) for field in fields]
    wanted = [(field, path) for field, path in wanted if path.section is not None]
    if not wanted:
        return
    known: dict[str, set[str]] = {}
    for doc in all_documents(registry):
        for section in {path.section for _, path in wanted}:
            known.setdefault(section, set()).update(doc.get(section) or {})
    for field, path in wanted:
        keys = known.get(path.section, set())
        if path.key in keys:
            continue
        close = get_close_matches(path.key, sorted(keys), n=3, cutoff=0.6)
        suggestion = (f"; did you mean {', '.join(f'{path.section}.{k}' for k in close)}?" if close
                      else f"; keys in use: {', '.join(f'{path.section}.{k}' for k in sorted(keys)[:10])}" if keys
                      else "")
        notices.warn(f"no version has {field}{suggestion}")
