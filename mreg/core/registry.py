"""The Python API: `Registry`, a thin facade over the operations.

Each command line verb is one method with the command's options as keyword
parameters; the method hands them to its operation (`mreg.core.ops.*`, imported
on first use so that `import mreg` stays cheap). The shared state the
operations work on (layout, config, store, lookup, the transaction) is
`mreg.core.repo.Repo`, which `Registry` extends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from mreg.core.lock import DEFAULT_TIMEOUT
from mreg.core.layout import Layout, find_registry
from mreg.core.repo import Repo, document, init_layout, parse_version_reference, sorted_versions

__all__ = ["Registry", "clone", "init", "open_registry"]


def init(path: str | None = None) -> "Registry":
    """Create `.mreg/` in `path` (default: the current directory); harmless to repeat."""
    registry = Registry(init_layout(path))
    registry.config  # a damaged existing config is reported, never overwritten
    return registry


def clone(url: str, directory: str | None = None, *, options: Sequence[str] | dict = (), lazy: bool = False,
          progress_for: Callable[[int], Callable[[int], None] | None] | None = None) -> dict:
    """Copy the remote registry at `url` into `directory`/.mreg with the remote as `origin`.

    `options` are the backend's (`endpoint_url=…`, `key_filename=…`); with
    `lazy`, objects are fetched only when a command reads them. Returns what
    was pulled and the new registry's `path`.
    """
    from mreg.core.ops.sync import clone as clone_op

    return clone_op(url, directory, options=options, lazy=lazy, progress_for=progress_for)


def open_registry(repo: str | None = None) -> "Registry":
    """The registry at `repo`, else MREG_REPO, else the nearest `.mreg/` upward."""
    return Registry(find_registry(repo))


class Registry(Repo):
    """One registry. Every method returns plain data (dicts, lists, strings)."""

    def __init__(self, layout: Layout, lock_timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(layout, lock_timeout)

    def register(self, name: str, path: str, *, version: str | None = None, bump: str | None = None,
                 metrics: Sequence[str] = (), params: Sequence[str] = (), tags: Sequence[str] = (),
                 datasets: Sequence[str] = (), description: str | None = None, framework: str | None = None,
                 metadata_file: str | None = None, stage: str | None = None, follow_symlinks: bool = False,
                 reason: str = "", progress: Callable[[int], None] | None = None) -> dict:
        """Store a file or directory as the next version of `name`; return its document.

        `version` sets the version (else the next `bump`: major, minor or patch;
        default patch after the first 1.0.0); `metrics`, `params` and `tags` are
        KEY=VALUE strings, `datasets` PATH or NAME=PATH; `metadata_file` a JSON
        or YAML file of the same; `stage` enters a stage along the promotion
        path; `follow_symlinks` stores what links point at; `progress` is told
        the bytes as they are stored.
        """
        from mreg.core.ops.register import register

        return register(self, name, path, version=version, bump=bump, metrics=metrics, params=params, tags=tags,
                        datasets=datasets, description=description, framework=framework,
                        metadata_file=metadata_file, stage=stage, follow_symlinks=follow_symlinks,
                        reason=reason, progress=progress)

    def show(self, ref: str) -> dict | list[dict]:
        """Everything about one version (`NAME@…`); for a bare NAME, every version, lowest first.

        As `mreg show` does: `show("sentiment@latest")` is one version document,
        `show("sentiment")` the list `mreg show sentiment --json` prints.
        """
        reference = parse_version_reference(ref, explicit=False)
        if reference.selector is None:
            return self.versions(reference.name)
        model, version = self.lookup(reference)
        return document(model["name"], model["versions"][version])

    def versions(self, name: str) -> list[dict]:
        """Every version of a model, lowest first."""
        model = self.model(name)
        return [document(name, model["versions"][v]) for v in sorted_versions(model)]

    def list(self) -> list[dict]:
        """Every model: version count, latest, production version, last change."""
        from mreg.core.ops.queries import list_models

        return list_models(self)

    def get(self, ref: str, destination: str | None = None, *, force: bool = False,
            progress: Callable[[int], None] | None = None) -> str:
        """Materialise a version's artifact at `destination`; return the path written.

        `force` replaces what is already there; `progress` is told the bytes written.
        """
        from mreg.core.ops.get import get

        return get(self, ref, destination, force=force, progress=progress)

    def get_version(self, ref: str, destination: str | None = None, *, force: bool = False,
                    progress_for: Callable[[dict], Callable[[int], None] | None] | None = None) -> dict:
        """Materialise a version's artifact; return its name, version and digest with the path written.

        The reference is resolved once, so the document names the bytes written.
        `progress_for(document)` may return a callback told the bytes written.
        """
        from mreg.core.ops.get import get_version

        return get_version(self, ref, destination, force=force, progress_for=progress_for)

    def object_path(self, ref: str) -> str:
        """The read-only stored file of a single-file artifact."""
        from mreg.core.ops.get import object_path

        return object_path(self, ref)

    def transition(self, ref: str, stage: str, reason: str = "") -> dict:
        """Move one version to `stage`, as the transition table allows."""
        from mreg.core.ops.lifecycle import transition

        return transition(self, ref, stage, reason)

    def promote(self, ref: str, to: str | None = None, reason: str = "") -> dict:
        """Move a version along the promotion path: one step, or every step up to `to`."""
        from mreg.core.ops.lifecycle import promote

        return promote(self, ref, to, reason)

    def rollback(self, name: str, to: str | None = None, reason: str = "") -> dict:
        """Return the release stage to the version that held it before."""
        from mreg.core.ops.lifecycle import rollback

        return rollback(self, name, to, reason)

    def update(self, ref: str, *, metrics: Sequence[str] = (), params: Sequence[str] = (),
               tags: Sequence[str] = (), description: str | None = None, framework: str | None = None,
               unset: Sequence[str] = (), reason: str = "") -> dict:
        """Change a version's metadata; the artifact never changes.

        `metrics`, `params` and `tags` are KEY=VALUE strings that set keys;
        `unset` names keys to remove (`metrics.KEY`, `params.KEY`, `tags.KEY`,
        `description`, `framework`).
        """
        from mreg.core.ops.update import update

        return update(self, ref, metrics=metrics, params=params, tags=tags, description=description,
                      framework=framework, unset=unset, reason=reason)

    def history(self, target: str | None = None, *, limit: int | None = None, since: str | None = None,
                actions: Sequence[str] = ()) -> list[dict]:
        """Events, newest first: of one model or version, or of the whole registry.

        `limit` keeps the newest N, `since` (a time or a duration such as 7d)
        the newer ones, `actions` only those actions.
        """
        from mreg.core.ops.queries import history

        return history(self, target, limit=limit, since=since, actions=actions)

    def search(self, filter_text: str = "", *, sort: str | None = None, descending: bool = False,
               limit: int | None = None, name_glob: str | None = None, stage: str | None = None) -> list[dict]:
        """Versions matching a filter (the filter language of `mreg search`).

        `sort` is a field to order by (`descending` reverses it), `limit` keeps
        the first N, `name_glob` and `stage` narrow the models and the stage.
        """
        from mreg.core.ops.queries import search

        return search(self, filter_text, sort=sort, descending=descending, limit=limit, name_glob=name_glob,
                      stage=stage)

    def diff(self, left: str, right: str) -> dict:
        """What changed from one version to another: metadata, stage, size and, for directories, files."""
        from mreg.core.ops.diff import diff

        return diff(self, left, right)

    def all_documents(self) -> Iterator[dict]:
        """Every version document in the registry."""
        from mreg.core.ops.queries import all_documents

        return all_documents(self)

    def remove(self, ref: str, *, all_versions: bool = False, force: bool = False, reason: str = "",
               dry_run: bool = False) -> list[str]:
        """Remove a version (or a whole model) from the index; the bytes go at the next gc.

        With `dry_run`, only what would be removed (or the refusal), changing nothing.
        """
        from mreg.core.ops.remove import remove

        return remove(self, ref, all_versions=all_versions, force=force, reason=reason, dry_run=dry_run)

    def gc(self, *, grace: str | None = None, archived_older_than: str | None = None, dry_run: bool = False,
           reason: str = "", progress_for: Callable[[int], Callable[[int], None] | None] | None = None) -> dict:
        """Delete unreferenced objects older than the grace period.

        `grace` overrides the configured grace period (a duration such as 7d);
        `archived_older_than` first removes versions archived longer than that;
        `dry_run` reports without deleting; `progress_for(total_bytes)` may
        return a callback told the size of each object taken away.
        """
        from mreg.core.ops.gc import gc

        return gc(self, grace=grace, archived_older_than=archived_older_than, dry_run=dry_run, reason=reason,
                  progress_for=progress_for)

    def verify(self, ref: str | None = None, *, rebuild_index: bool = False,
               progress_for: Callable[[int], Callable[[int], None] | None] | None = None) -> dict:
        """Re-hash artifacts and check the index and history (of one model or version, or all).

        `rebuild_index` also rebuilds each index from its history, in memory,
        and reports any difference.
        """
        from mreg.core.ops.verify import verify

        return verify(self, ref, rebuild_index=rebuild_index, progress_for=progress_for)

    # --- remotes -------------------------------------------------------------
    def remote_add(self, name: str, url: str, *, options: Sequence[str] | dict = (),
                   single_writer: bool = False) -> dict:
        """Remember a remote (creating an empty remote registry there if there is none).

        The storage must refuse a second create of one key; a storage that
        does not is refused unless `single_writer` (one machine writes).
        """
        from mreg.core.ops.remotes import add_remote

        return add_remote(self, name, url, options=options, single_writer=single_writer)

    def remote_list(self) -> list[dict]:
        """The remotes: name, url, and which is the default."""
        from mreg.core.ops.remotes import list_remotes

        return list_remotes(self)

    def remote_remove(self, name: str) -> dict:
        """Forget a remote (nothing on the remote changes)."""
        from mreg.core.ops.remotes import remove_remote

        return remove_remote(self, name)

    def push(self, remote: str | None = None, names: Sequence[str] = (), *, rebase: bool = False,
             progress_for: Callable[[int], Callable[[int], None] | None] | None = None) -> dict:
        """Send the objects and events `remote` (default: the default remote) lacks, for `names` or every model.

        A model the remote has moved ahead on is listed in `rejected`; with
        `rebase` it is pulled and pushed again.
        """
        from mreg.core.ops.sync import push

        return push(self, remote, names, rebase=rebase, progress_for=progress_for)

    def pull(self, remote: str | None = None, names: Sequence[str] = (), *,
             progress_for: Callable[[int], Callable[[int], None] | None] | None = None) -> dict:
        """Fetch and apply the remote's new events (and objects, unless lazy); local events go on top."""
        from mreg.core.ops.sync import pull

        return pull(self, remote, names, progress_for=progress_for)

    def verify_remote(self, remote: str | None = None) -> dict:
        """Check a remote in place: every log entry, each index rebuilt, every object re-hashed."""
        from mreg.core.ops.remote_maintenance import verify_remote

        return verify_remote(self, remote)

    def gc_remote(self, remote: str | None = None, *, grace: str | None = None, dry_run: bool = False) -> dict:
        """Two-phase gc of a remote: mark unreferenced objects; delete those marked at least `grace` ago."""
        from mreg.core.ops.remote_maintenance import gc_remote

        return gc_remote(self, remote, grace=grace, dry_run=dry_run)
