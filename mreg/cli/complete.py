"""Completion callbacks: each TAB is a short process that reads the index and nothing else."""

from __future__ import annotations

import os


def _registry():
    from mreg.core.layout import find_registry
    from mreg.core.registry import Registry

    try:
        return Registry(find_registry(_repo_from_argv()))
    except Exception:  # noqa: BLE001 - a TAB never prints an error
        return None


def _repo_from_argv() -> str | None:
    # The shell hands the words typed so far in COMP_WORDS (bash/zsh) or as
    # the command line; honour a --repo among them.
    words = os.environ.get("COMP_WORDS", "").split()
    for i, word in enumerate(words):
        if word == "--repo" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--repo="):
            return word.split("=", 1)[1]
    return None


def model_names(incomplete: str) -> list[str]:
    registry = _registry()
    if registry is None:
        return []
    from mreg.core import index as index_mod

    return [n for n in index_mod.iter_model_names(registry.layout) if n.startswith(incomplete)]


def references(incomplete: str) -> list[str]:
    """`se` → model names; `sentiment@` → its versions, `latest` and the stages in use."""
    if "@" not in incomplete:
        return model_names(incomplete)
    registry = _registry()
    if registry is None:
        return []
    from mreg.core import index as index_mod
    from mreg.core.semver import Version

    name, _, partial = incomplete.partition("@")
    try:
        model = index_mod.load_model(registry.layout, name)
    except Exception:  # noqa: BLE001
        return []
    if model is None:
        return []
    versions = sorted(model["versions"], key=Version.parse, reverse=True)
    stages = []
    for record in model["versions"].values():
        if record["stage"] not in stages:
            stages.append(record["stage"])
    options = versions + ["latest"] + stages
    return [f"{name}@{o}" for o in options if o.startswith(partial)]


def stages(incomplete: str) -> list[str]:
    registry = _registry()
    if registry is None:
        from mreg.core.config import DEFAULT_STAGES

        names = list(DEFAULT_STAGES)
    else:
        try:
            names = list(registry.lifecycle.stages)
        except Exception:  # noqa: BLE001
            return []
    return [s for s in names if s.startswith(incomplete)]


def sort_fields(incomplete: str) -> list[str]:
    from mreg.core.query import KNOWN_FIELDS

    fields = [f for f in KNOWN_FIELDS if not f.endswith(".")]
    registry = _registry()
    if registry is not None and "." in incomplete:
        group = incomplete.split(".", 1)[0]
        if group in ("metrics", "params", "tags", "datasets"):
            seen: set[str] = set()
            try:
                for doc in registry.all_documents():
                    seen.update(f"{group}.{k}" for k in doc.get(group) or {})
            except Exception:  # noqa: BLE001
                pass
            fields += sorted(seen)
    return [f for f in fields if f.startswith(incomplete)]
