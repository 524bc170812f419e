"""`lineage`: where a version came from and what was made from it.

A version registered `--from` others records them, exactly, in its
`derived_from` (`NAME@VERSION`s, of any model). Its ancestors are those,
followed recursively; its descendants the versions whose `derived_from`
names it, across every model. Each version comes with the datasets it was
trained on and the git commit it was registered from. A version removed
since (rm, gc) stays in the chain, marked removed. (Who made a change and
from which commit is recorded by `mreg/core/lineage.py`.)
"""

from __future__ import annotations

from mreg.core.repo import Repo
from mreg.core.semver import Version
from mreg.core.wording import name as spelled
from mreg.errors import NotFoundError, UsageError


def lineage(registry: Repo, ref: str, *, depth: int | None = None) -> dict:
    """The version `ref` names, with its `ancestors` and `descendants`, `depth` levels each way (default: all)."""
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise UsageError(f"{spelled('depth')} must be a whole number, 1 or more (got {depth!r})")
    model, version = registry.lookup(ref)
    models: dict[str, dict | None] = {model["name"]: model}

    def find(name: str) -> dict | None:
        if name not in models:
            try:
                models[name] = registry.model(name)
            except (NotFoundError, UsageError):
                models[name] = None  # a model since removed whole (or named by a hand edit)
        return models[name]

    children: dict[str, list[str]] = {}
    for name in registry.model_names():
        found = find(name)
        versions = (found or {}).get("versions", {})
        for number in sorted(versions, key=Version.parse):
            record = versions[number]
            for parent in record.get("derived_from") or ():
                children.setdefault(parent, []).append(f"{name}@{number}")

    def next_of(label: str, record: dict | None, direction: str) -> list[str]:
        if direction == "ancestors":
            return list((record or {}).get("derived_from") or ())
        return children.get(label, [])

    def node(label: str, direction: str, level: int, path: frozenset[str]) -> dict:
        name, _, number = label.rpartition("@")
        found = find(name)
        record = found["versions"].get(number) if found else None
        doc = _describe(name, number, record)
        if record is None:
            return doc  # what a removed version came from is no longer in the index
        following = [item for item in next_of(label, record, direction) if item not in path]  # no cycle, ever
        if depth is not None and level >= depth:
            if following:
                doc["truncated"] = True
            return doc
        doc[direction] = [node(item, direction, level + 1, path | {item}) for item in following]
        return doc

    root_label = f"{model['name']}@{version}"
    root = _describe(model["name"], version, model["versions"][version])
    for direction in ("ancestors", "descendants"):
        root[direction] = node(root_label, direction, 0, frozenset({root_label}))[direction]
    return root


def _describe(name: str, version: str, record: dict | None) -> dict:
    """What lineage shows of one version: its stage, datasets, git commit and sources; or that it is removed."""
    if record is None:
        return {"name": name, "version": version, "removed": True}
    recorded = record.get("lineage") or {}
    return {
        "name": name,
        "version": version,
        "removed": False,
        "stage": record["stage"],
        "created_at": record["created_at"],
        "created_by": record["created_by"],
        "git_commit": recorded.get("git_commit"),
        "datasets": record.get("datasets") or {},
        "derived_from": list(record.get("derived_from") or ()),
    }
