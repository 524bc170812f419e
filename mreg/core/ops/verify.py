"""`verify`: re-hash every object the index references and check index and history.

Each problem names the object or file and the versions it affects. An object
shared by several versions is hashed once.
"""

from __future__ import annotations

import os

from mreg.core import index as index_mod
from mreg.core.artifact import load_manifest
from mreg.core.history import check_chain
from mreg.core.names import parse_reference
from mreg.core.repo import Repo
from mreg.core.store import format_digest, parse_digest
from mreg.errors import IntegrityError


def _relative(registry: Repo, path: str) -> str:
    return os.path.relpath(path, os.path.dirname(registry.root))


def _object_problem(registry: Repo, hexdigest: str, problem: str, labels: list[str]) -> dict:
    return {"object": format_digest(hexdigest), "path": _relative(registry, registry.store.path(hexdigest)),
            "problem": problem, "versions": sorted(set(labels))}


def _stored_size(registry: Repo, hexdigests) -> int:
    """The bytes these objects take in the store; a missing one (or a link) counts nothing."""
    total = 0
    for hexdigest in hexdigests:
        try:
            total += os.lstat(registry.store.path(hexdigest)).st_size
        except OSError:
            pass
    return total


def stage_problems(registry: Repo, name: str, model: dict) -> list[dict]:
    """Versions in a stage the config does not list, exclusive stages with more than one holder, and
    aliases a stage shadows (every alias points at an existing version: the index's own check)."""
    lifecycle = registry.lifecycle
    index = _relative(registry, registry.layout.index_path(name))
    problems = []
    holders: dict[str, list[str]] = {}
    for version, record in model["versions"].items():
        holders.setdefault(record["stage"], []).append(version)
    for stage, versions in sorted(holders.items()):
        labels = [f"{name}@{v}" for v in sorted(versions)]
        if stage not in lifecycle.stages:
            problems.append({"file": index, "problem": f"stage {stage[:40]!r} is not one of the stages in "
                             f"config.toml (lifecycle.stages)", "versions": labels})
        elif stage in lifecycle.exclusive and len(versions) > 1:
            problems.append({"file": index, "problem": f"{len(versions)} versions are in {stage}, which only "
                             f"one may hold (lifecycle.exclusive)", "versions": labels})
    for alias, version in sorted((model.get("aliases") or {}).items()):
        # The index's check saw the alias's spelling; only the config knows the stages, and a reference reads a stage first.
        if alias in lifecycle.stages:
            problems.append({"file": index, "problem": f"alias {alias!r} has the name of a stage in config.toml, "
                             f"so {name}@{alias} names the stage; delete the alias or rename the stage",
                             "versions": [f"{name}@{version}"]})
    return problems


def _filename_problem(registry: Repo, name: str, version: str, record: dict) -> dict | None:
    """The recorded filename, `get`'s default destination, must be one plain name."""
    from mreg.core.artifact import filename_fault

    recorded = record.get("filename")
    fault = None if recorded is None or recorded == "" else filename_fault(recorded)
    if fault is None:
        return None
    return {"file": _relative(registry, registry.layout.index_path(name)),
            "problem": f"version {version}: field filename {fault}", "versions": [f"{name}@{version}"]}


def _still_referenced(registry: Repo, problems: list[dict], digests: dict[str, str]) -> list[dict]:
    """Keep only the damage that is really there: drop versions removed while verify ran.

    A missing or damaged object is reported for the versions that referenced
    it when verify read the index (`digests`: NAME@VERSION -> its digest then)
    *and* still do in a fresh read made after the object was found wanting.
    A version is never re-added once removed and its digest never changes, so
    one present in both reads referenced the object the whole time, and a
    referenced object is never deleted (gc only takes unreferenced ones): that
    damage is real. A version gone from the fresh read was removed, and its
    objects collected, while verify ran: no damage.
    """
    fresh: dict[str, dict | None] = {}

    def present(label: str) -> bool:
        name, _, version = label.rpartition("@")
        if name not in fresh:
            try:
                fresh[name] = index_mod.load_model(registry.layout, name)
            except IntegrityError:
                fresh[name] = {"versions": None}  # damaged now: reported on its own, keep what was seen
        model = fresh[name]
        if model is None:
            return False
        if model["versions"] is None:
            return True
        record = model["versions"].get(version)
        return isinstance(record, dict) and record.get("digest") == digests.get(label)

    kept = []
    for problem in problems:
        if "object" in problem:
            problem["versions"] = [label for label in problem["versions"] if present(label)]
            if not problem["versions"]:
                continue
        kept.append(problem)
    return kept


def _rebuild_problem(registry: Repo, name: str, model: dict) -> dict | None:
    """How the index differs from the one its history rebuilds, or None when they are the same."""
    from mreg.core.history import read_events
    from mreg.core.replay import NotReplayable, differences, rebuild

    meta = model["history"]
    index = _relative(registry, registry.layout.index_path(name))
    try:
        events = read_events(registry.layout.history_path(name), meta["events"], meta["head"], name)
        rebuilt = rebuild(name, events)
    except IntegrityError:
        return None  # the chain check reports a damaged history on its own
    except NotReplayable as exc:
        return {"file": index, "problem": f"not replayable: {exc} (written by an earlier mreg)",
                "versions": [f"{name}@*"]}
    try:
        found = differences(model, rebuilt)
    except RecursionError:  # nesting no index mreg writes has
        found = ["nested too deeply to compare"]
    if not found:
        return None
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return {"file": index, "problem": f"differs from the index its history rebuilds: {'; '.join(found[:3])}{more}",
            "versions": [f"{name}@*"]}


def verify(registry: Repo, ref: str | None = None, *, rebuild_index: bool = False, progress_for=None) -> dict:
    """Check everything (or one version, with its model's index and history); never raises for damage found.

    With `rebuild_index`, each model's index is also rebuilt from its history
    (in memory, nothing is written) and any difference is a problem.
    `progress_for(total_bytes)` may return a callback that is told how many
    bytes each read hashed (the command line draws a bar with it).
    """
    registry.config  # a damaged config is an integrity error of its own
    problems: list[dict] = []
    # object hex digest -> the versions referencing it (NAME@VERSION)
    uses: dict[str, list[str]] = {}
    manifests: dict[str, list[str]] = {}
    digests: dict[str, str] = {}  # NAME@VERSION -> its digest, as read
    models_checked = 0
    versions_checked = 0

    if ref is not None:
        reference = parse_reference(ref)
        if reference.selector is None:
            registry.model(reference.name)  # a bare NAME checks every version of that model
            selected = None
        else:
            _, selected = registry.lookup(reference)
        names = [reference.name]
    else:
        names, selected = registry.model_names(), None

    for name in names:
        try:
            model = index_mod.load_model(registry.layout, name)
        except IntegrityError as exc:
            problems.append({"file": _relative(registry, registry.layout.index_path(name)), "problem": exc.message,
                             "versions": [f"{name}@*"]})
            continue
        if model is None:
            continue
        models_checked += 1
        meta = model["history"]
        fault = check_chain(registry.layout.history_path(name), meta.get("events", 0), meta.get("head", ""),
                            meta.get("bytes"))
        if fault:
            problems.append({"file": _relative(registry, registry.layout.history_path(name)),
                             "problem": f"history: {fault}", "versions": [f"{name}@*"]})
        problems += stage_problems(registry, name, model)
        if rebuild_index and not fault:
            rebuilt = _rebuild_problem(registry, name, model)
            if rebuilt is not None:
                problems.append(rebuilt)
        for version, record in model["versions"].items():
            if selected is not None and version != selected:
                continue
            versions_checked += 1
            label = f"{name}@{version}"
            try:
                hexdigest = parse_digest(record.get("digest", ""))
            except IntegrityError as exc:
                problems.append({"file": _relative(registry, registry.layout.index_path(name)),
                                 "problem": exc.message, "versions": [label]})
                continue
            digests[label] = record["digest"]
            filename = _filename_problem(registry, name, version, record)
            if filename is not None:
                problems.append(filename)
            uses.setdefault(hexdigest, []).append(label)
            if record.get("kind") == "directory":
                manifests.setdefault(hexdigest, []).append(label)

    broken: set[str] = set()
    for hexdigest, labels in manifests.items():
        try:
            files = load_manifest(registry.store, hexdigest)
        except IntegrityError as exc:
            broken.add(hexdigest)
            problems.append(_object_problem(registry, hexdigest, exc.message, labels))
            continue
        for entry in files:
            uses.setdefault(parse_digest(entry["digest"]), []).extend(labels)

    checked_bytes = 0
    progress = progress_for(_stored_size(registry, uses)) if progress_for is not None else None
    for hexdigest, labels in uses.items():
        if hexdigest in broken:
            continue
        fault, size = registry.store.fault(hexdigest, progress)
        if fault is None:
            checked_bytes += size
        else:
            problems.append(_object_problem(registry, hexdigest, fault, labels))
    problems = _still_referenced(registry, problems, digests)
    return {
        "ok": not problems,
        "checked": {"models": models_checked, "versions": versions_checked, "objects": len(uses), "bytes": checked_bytes},
        "problems": problems,
    }
