"""Where things live inside `.mreg/`, and how a registry is found.

```
.mreg/
  config.toml                format version, lifecycle table, gc defaults
  objects/ab/cdef…           every stored byte sequence, named by its SHA-256, read-only
  models/NAME/_index.json    one model's versions (NAME may hold '/': nested folders)
  models/NAME/_history.jsonl one model's events, each carrying the hash of the one before
  intake/ID/                 a running writer's temporary files and its claim on objects
  lock, lock.json            the registry lock and who holds it
  cache/                     derived data, rebuilt whenever it is missing or stale
  remotes/NAME.json          how much of remote NAME this copy has pulled and pushed
  .gitignore                 keeps objects, intake, cache and the lock out of a git repository
```
Index and history file names start with `_`, which no name segment can, so a
model `a` and a model `a/b` never collide. Apart from the remotes (their URLs
in config.toml, and remotes/), nothing here holds an absolute path or
host-specific state, so a registry can be copied or synced as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mreg.core.wording import name as spelled
from mreg.errors import NotFoundError

REGISTRY_DIR = ".mreg"
CONFIG_FILE = "config.toml"  # its presence is what makes a folder a registry
INDEX_FILE = "_index.json"
HISTORY_FILE = "_history.jsonl"


@dataclass(frozen=True)
class Layout:
    """The paths of one registry, given the `.mreg` directory itself."""

    root: str

    @property
    def config(self) -> str:
        return os.path.join(self.root, CONFIG_FILE)

    @property
    def objects(self) -> str:
        return os.path.join(self.root, "objects")

    @property
    def models(self) -> str:
        return os.path.join(self.root, "models")

    @property
    def intake(self) -> str:
        return os.path.join(self.root, "intake")

    @property
    def cache(self) -> str:
        return os.path.join(self.root, "cache")

    @property
    def gitignore(self) -> str:
        return os.path.join(self.root, ".gitignore")

    @property
    def lock(self) -> str:
        return os.path.join(self.root, "lock")

    @property
    def lock_info(self) -> str:
        return os.path.join(self.root, "lock.json")

    def object_path(self, hexdigest: str) -> str:
        return os.path.join(self.root, "objects", hexdigest[:2], hexdigest[2:])

    def model_dir(self, name: str) -> str:
        # `name` is validated (mreg/core/names.py): no '..', no absolute path, '/' only as separator.
        return os.path.join(self.root, "models", *name.split("/"))

    def index_path(self, name: str) -> str:
        return os.path.join(self.model_dir(name), INDEX_FILE)

    def history_path(self, name: str) -> str:
        return os.path.join(self.model_dir(name), HISTORY_FILE)


def find_registry(repo: str | None = None, start: str | None = None) -> Layout:
    """The registry named by `repo` (a project folder or a `.mreg` folder), else by
    MREG_REPO, else the nearest `.mreg/` upward from `start` (the current directory)."""
    explicit = repo or os.environ.get("MREG_REPO") or None
    if explicit:
        path = os.path.abspath(explicit)
        for candidate in (os.path.join(path, REGISTRY_DIR), path):
            if os.path.isfile(os.path.join(candidate, CONFIG_FILE)):
                return Layout(candidate)
        raise NotFoundError(f"no mreg registry at {explicit}", hint=f"run: mreg init {explicit}")
    try:
        here = os.path.abspath(start or os.getcwd())
    except FileNotFoundError:
        raise NotFoundError("the current folder no longer exists, so no registry can be found from it",
                            hint=f"cd to a folder that exists, or pass {spelled('repo')}") from None
    while True:
        candidate = os.path.join(here, REGISTRY_DIR)
        if os.path.isfile(os.path.join(candidate, CONFIG_FILE)):
            return Layout(candidate)
        parent = os.path.dirname(here)
        if parent == here:
            raise NotFoundError(
                "not inside an mreg registry (no .mreg/ here or in any parent folder)",
                hint=f"run: {spelled('init')}   (or pass {spelled('repo')}, or set MREG_REPO)",
            )
        here = parent
