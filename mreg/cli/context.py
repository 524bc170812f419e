"""Opening the registry a command works on."""

from __future__ import annotations

import os

from mreg.cli import repo as chosen_repo, settings


def open_registry(repo: str | None, lock_timeout: float | None = None, *, index_only: bool = False):
    """The registry `--repo` names; `index_only`: the command reads nothing but the index (list, show, search)."""
    from mreg.core.layout import find_registry
    from mreg.core.registry import Registry

    chosen = chosen_repo.chosen(repo)
    if chosen and ("://" in chosen or os.path.isfile(os.path.join(chosen, "mreg-remote.json"))):
        # A remote registry (a URL, or a folder holding one): worked on through a cached clone,
        # and read through its index-only view (snapshots spare replaying the whole log) when that suffices.
        from mreg.core.direct import open_direct, open_view

        if index_only:
            return open_view(chosen, settings.lock_timeout(lock_timeout))

        return open_direct(chosen, settings.lock_timeout(lock_timeout))
    return Registry(find_registry(chosen_repo.chosen(repo)), lock_timeout=settings.lock_timeout(lock_timeout))
