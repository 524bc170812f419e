"""init, register, update."""

from __future__ import annotations

import os

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.cli.render import print_version


def init(path: str | None = None, repo: str | None = None, json: bool = False, quiet: bool = False) -> None:
    import mreg
    from mreg.core.config import FORMAT_VERSION
    from mreg.errors import UsageError

    if path and repo and os.path.abspath(path) != os.path.abspath(repo):
        raise UsageError(f"init got two places: PATH {path!r} and --repo {repo!r}", hint="give one of them")
    from mreg.cli import repo as chosen_repo

    registry = mreg.init(path or chosen_repo.chosen(repo))
    if settings.wants_json(json):
        output.print_json({"registry": registry.root, "format": FORMAT_VERSION})
    elif not quiet:
        print(f"registry ready at {registry.root}")


def register(name: str, path: str, version: str | None = None, bump: str | None = None, metric: list[str] = [],
             param: list[str] = [], tag: list[str] = [], description: str | None = None,
             framework: str | None = None, dataset: list[str] = [], metadata_file: str | None = None,
             stage: str | None = None, derived_from: list[str] = [], follow_symlinks: bool = False,
             reason: str = "", if_changed: bool = False, override: bool = False,
             lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
             repo: str | None = None) -> None:
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


def _total_size(path: str) -> int:
    """The bytes the progress bar counts: the file, or every file under the directory (links not followed)."""
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


def update(ref: str, metric: list[str] = [], param: list[str] = [], tag: list[str] = [],
           description: str | None = None, framework: str | None = None, unset: list[str] = [], reason: str = "",
           lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
           repo: str | None = None) -> None:
    registry = open_registry(repo, lock_timeout)
    # Copies: the lists are the caller's (typer's, or the fast path's) and stay as they were given.
    doc = registry.update(ref, metrics=list(metric), params=list(param), tags=list(tag), description=description,
                          framework=framework, unset=list(unset), reason=reason)
    print_version(doc, json=json, quiet=quiet, verb="updated")
