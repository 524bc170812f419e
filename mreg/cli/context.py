"""Opening the registry a command works on."""

from __future__ import annotations

from mreg.cli import repo as chosen_repo, settings


def open_registry(repo: str | None, lock_timeout: float | None = None):
    from mreg.core.layout import find_registry
    from mreg.core.registry import Registry

    return Registry(find_registry(chosen_repo.chosen(repo)), lock_timeout=settings.lock_timeout(lock_timeout))
