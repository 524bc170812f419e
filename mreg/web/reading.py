"""What the pages are made of, read once from a registry through its Python API.

A `Snapshot` holds every model's index document (the lineage links cross
models), the models the pages are for, and, read on first use and kept, each
model's history and each directory artifact's manifest: a site of a thousand
versions reads every file once.
"""

from __future__ import annotations

from functools import cached_property

from mreg.core.semver import Version
from mreg.errors import NotFoundError


class Snapshot:
    """The registry's state as the pages show it."""

    def __init__(self, registry, names: list[str] | None = None) -> None:
        self.registry = registry
        self.models: dict[str, dict] = {}
        for name in registry.model_names():
            try:
                self.models[name] = registry.model(name)
            except NotFoundError:  # every version removed: nothing to show
                continue
        if names:
            for name in names:
                if name not in self.models:
                    self.models[name] = registry.model(name)  # the usual error: invalid name, or no such model
            self.names = sorted(set(names))
        else:
            self.names = sorted(self.models)
        self._history: dict[str, list[dict]] = {}
        self._manifests: dict[str, list[dict]] = {}
        self._versions: dict[str, list[str]] = {}

    @property
    def release(self) -> str:
        return self.registry.lifecycle.release

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(self.registry.lifecycle.stages)

    def versions(self, name: str) -> list[str]:
        """A model's versions, lowest first (sorted once: every version's page asks)."""
        if name not in self._versions:
            self._versions[name] = sorted(self.models[name]["versions"], key=Version.parse)
        return self._versions[name]

    def document(self, name: str, version: str) -> dict:
        return {"name": name, **self.models[name]["versions"][version]}

    def has(self, name: str, version: str) -> bool:
        """Whether the pages show this version (it exists and its model is one of the site's)."""
        return name in self.names and version in self.models[name]["versions"]

    def history(self, name: str) -> list[dict]:
        """A model's events, newest first."""
        if name not in self._history:
            self._history[name] = self.registry.history(name)
        return self._history[name]

    def manifest(self, digest: str) -> list[dict]:
        """A directory artifact's files, sorted by path."""
        if digest not in self._manifests:
            self._manifests[digest] = sorted(self.registry.manifest(digest), key=lambda e: e["path"])
        return self._manifests[digest]

    def listing(self, document: dict) -> dict[str, dict]:
        return {entry["path"]: entry for entry in self.manifest(document["digest"])}

    def compare(self, left: dict, right: dict) -> dict:
        """What `mreg diff` reports for two version documents."""
        from mreg.core.ops.diff import compare_documents

        return compare_documents(left, right, self.listing)

    @cached_property
    def summaries(self) -> dict[str, dict]:
        """`mreg list`'s row of each model, by name."""
        return {row["name"]: row for row in self.registry.list()}

    @cached_property
    def derived(self) -> dict[str, list[str]]:
        """NAME@VERSION → the versions registered from it (lineage), across every model, sorted."""
        children: dict[str, list[str]] = {}
        for name in sorted(self.models):
            model = self.models[name]
            for version in sorted(model["versions"], key=Version.parse):
                for parent in model["versions"][version].get("derived_from", []) or []:
                    if isinstance(parent, str):
                        children.setdefault(parent, []).append(f"{name}@{version}")
        return children
