"""The Python API: `Registry`, a thin facade over the operations.

Each command line verb is one method with the command's options as keyword
parameters; the method hands them to its operation (`mreg.core.ops.*`, imported
on first use so that `import mreg` stays cheap). The shared state the
operations work on (layout, config, store, lookup, the transaction) is
`mreg.core.repo.Repo`, which `Registry` extends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

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
                 metadata_file: str | None = None, stage: str | None = None, derived_from: Sequence[str] = (),
                 follow_symlinks: bool = False, reason: str = "", override: bool = False,
                 progress: Callable[[int], None] | None = None, if_changed: bool = False) -> dict:
        """Store a file or directory as the next version of `name`; return its document.

        `version` sets the version (else the next `bump`: major, minor or patch;
        default patch after the first 1.0.0); `metrics`, `params` and `tags` are
        KEY=VALUE strings, `datasets` PATH or NAME=PATH; `metadata_file` a JSON
        or YAML file of the same; `stage` enters a stage along the promotion
        path; `derived_from` names the versions this one was derived from
        (references of any model, recorded as exact `NAME@VERSION`s);
        `follow_symlinks` stores what links point at; `override` (admins,
        with a `reason`) lets `stage` pass stages that take approvals;
        `progress` is told the bytes as they are stored. With `if_changed`, a
        version of `name` holding the same bytes (same digest) is returned and
        nothing is registered; the document's `created` then says which happened.
        """
        from mreg.core.ops.register import register

        return register(self, name, path, version=version, bump=bump, metrics=metrics, params=params, tags=tags,
                        datasets=datasets, description=description, framework=framework,
                        metadata_file=metadata_file, stage=stage, derived_from=derived_from,
                        follow_symlinks=follow_symlinks, reason=reason, override=override, progress=progress,
                        if_changed=if_changed)

    def show(self, ref: str) -> dict | list[dict]:
        """Everything about one version (`NAME@…`); for a bare NAME, every version, lowest first.

        Each document adds `aliases`: the aliases pointing at that version (a list, maybe empty).

        As `mreg show` does: `show("sentiment@latest")` is one version document,
        `show("sentiment")` the list `mreg show sentiment --json` prints.
        """
        reference = parse_version_reference(ref, explicit=False)
        if reference.selector is None:
            return self.versions(reference.name)
        model, version = self.lookup(reference)
        return _shown(model, version)

    def versions(self, name: str) -> list[dict]:
        """Every version of a model, lowest first, each with the `aliases` that point at it."""
        model = self.model(name)
        return [_shown(model, v) for v in sorted_versions(model)]

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

    def transition(self, ref: str, stage: str, reason: str = "", *, condition: str | None = None,
                   if_missing: str = "fail", override: bool = False) -> dict:
        """Move one version to `stage`, as the transition table allows.

        `condition` (the language of `mreg check`) must be true, checked under
        the lock with the move, else nothing moves (ConditionFailed, exit 1);
        `if_missing="pass"` lets an unknown condition (a missing value) pass.
        A stage that takes approvals needs them; `override` (admins only, with
        a `reason`) moves without them and records an `override` event.
        """
        from mreg.core.ops.lifecycle import transition

        return transition(self, ref, stage, reason, condition=condition, if_missing=if_missing, override=override)

    def promote(self, ref: str, to: str | None = None, reason: str = "", *, condition: str | None = None,
                if_missing: str = "fail", override: bool = False) -> dict:
        """Move a version along the promotion path: one step, or every step up to `to`.

        `condition` and `if_missing` as for `transition`. Each step into a stage
        that takes approvals needs them; `override` (admins only, with a
        `reason`) moves without them, recorded.
        """
        from mreg.core.ops.lifecycle import promote

        return promote(self, ref, to, reason, condition=condition, if_missing=if_missing, override=override)

    def check(self, ref: str, condition: str, *, if_missing: str = "fail") -> dict:
        """Evaluate a condition for one version, moving nothing.

        Returns `condition`, `name`, `version`, `result` (True, False or None
        for unknown), `passed` (whether a move would go ahead: true, or
        unknown with `if_missing="pass"`), each clause with the values it
        read, and the versions the `@SELECTOR`s named.
        """
        from mreg.core.ops.gates import check

        return check(self, ref, condition, if_missing)

    def rollback(self, name: str, to: str | None = None, reason: str = "", *, override: bool = False) -> dict:
        """Return the release stage to the version that held it before.

        Approvals are asked only where the stage's rule sets
        `rollback_requires_approval`; `override` as for `promote`.
        """
        from mreg.core.ops.lifecycle import rollback

        return rollback(self, name, to, reason, override=override)

    def approve(self, ref: str, *, stage: str | None = None, env: str | None = None, reason: str = "") -> dict:
        """Approve a version entering `stage` (or environment `env`); return the approval record."""
        from mreg.core.ops.approvals import decide

        return decide(self, "approve", ref, stage=stage, env=env, reason=reason)

    def reject(self, ref: str, *, stage: str | None = None, env: str | None = None, reason: str = "") -> dict:
        """Reject a version entering `stage` (or `env`): it blocks until withdrawn or voided; `reason` is required."""
        from mreg.core.ops.approvals import decide

        return decide(self, "reject", ref, stage=stage, env=env, reason=reason)

    def approvals(self, ref: str) -> dict:
        """A version's approvals and rejections (each valid, expired or void) and what each protected target still needs."""
        from mreg.core.ops.approvals import listing

        return listing(self, ref)

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

    def alias(self, ref: str, alias: str, reason: str = "") -> dict:
        """Point `alias` at the version `ref` names (`NAME@…`), moving it if it pointed elsewhere.

        Returns `{name, alias, version, previous}`; `previous` is the version it
        pointed at before (None if new, equal to `version` if nothing moved).
        """
        from mreg.core.ops.alias import set_alias

        return set_alias(self, ref, alias, reason)

    def unalias(self, name: str, alias: str, reason: str = "") -> dict:
        """Delete `alias` of model `name`; returns `{name, alias, version: None, previous}`."""
        from mreg.core.ops.alias import delete_alias

        return delete_alias(self, name, alias, reason)

    def aliases(self, name: str) -> dict:
        """The aliases of model `name`: {ALIAS: VERSION}, in alias order."""
        from mreg.core.ops.alias import list_aliases

        return list_aliases(self, name)

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

    def lineage(self, ref: str, *, depth: int | None = None) -> dict:
        """A version with its ancestors (the versions it was registered `--from`, recursively) and its
        descendants (those registered from it, in any model), `depth` levels each way (default: all).

        Each version in the tree carries its stage, datasets, git commit and
        `derived_from`; one removed since is `{"name", "version", "removed": True}`.
        """
        from mreg.core.ops.lineage import lineage

        return lineage(self, ref, depth=depth)
    def manifest(self, digest: str) -> list[dict]:
        """The files of a directory artifact, from a version's `digest`: path, digest, size, executable.

        The manifest is read from the store and checked against its digest; the
        files' own bytes are not read.
        """
        from mreg.core.artifact import load_manifest
        from mreg.core.store import parse_digest

        return load_manifest(self.store, parse_digest(digest))

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
        `archived_older_than` first removes versions archived longer than that,
        as the `[[retention]]` rules of config.toml remove what they match (the
        report's `removals` names each version's rule);
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

    def deploy(self, ref: str, env: str, *, traffic: int | None = None,
               split: Mapping[str, int] | str | None = None, rollback: bool = False, reason: str = "",
               condition: str | None = None, if_missing: str = "fail", override: bool = False) -> dict:
        """Change which versions of a model serve in environment `env`; return the deployment afterwards.

        `ref` (NAME@VERSION) receives `traffic` percent (1-100, default 100) and
        the versions already there share the rest in proportion; or, with a bare
        NAME, `split` sets the whole split ({"1.2.0": 90, "1.3.0": 10} or
        "1.2.0=90,1.3.0=10", summing to 100), or `rollback` returns `env` to
        its split before its last change. The document is
        {name, env, traffic, since, by, drift, version, from, left, changed}.
        `condition` and `if_missing` as for `transition`, checked for `ref`
        under the lock; a version entering an environment that takes approvals
        needs them (`override`: admins only, with a `reason`, recorded).
        """
        from mreg.core.ops.deploy import deploy

        return deploy(self, ref, env, traffic=traffic, split=split, rollback=rollback, reason=reason,
                      condition=condition, if_missing=if_missing, override=override)

    def undeploy(self, ref: str, env: str, *, reason: str = "") -> dict:
        """Take `ref` out of environment `env`; the versions still there are scaled up to 100."""
        from mreg.core.ops.deploy import undeploy

        return undeploy(self, ref, env, reason=reason)

    def deployments(self, name: str | None = None, *, env: str | None = None, at: str | None = None) -> list[dict]:
        """Each environment's split: [{name, env, traffic, since, by, drift}], of one model or all.

        `env` keeps one environment; `at` (a time such as 2026-11-01T12:00Z,
        or -7d) replays the history to give the splits as they were then.
        """
        from mreg.core.ops.deploy import deployments

        return deployments(self, name, env=env, at=at)

    def export_deployment(self, name: str, env: str, format: str = "json", *, at: str | None = None) -> dict:
        """Model `name`'s split in `env` as `format` describes it: json, kserve or sagemaker.

        Each version's location is its stored object's path (for a directory
        artifact, its manifest's). Raises RefusedError where the target
        cannot express the split.
        """
        from mreg.core.ops.export import export

        return export(self, name, env, format, at=at)

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


def _shown(model: dict, version: str) -> dict:
    """A version's document as `show` prints it: with the aliases that point at it."""
    from mreg.core.holds import aliases_of

    shown = {**document(model["name"], model["versions"][version]), "aliases": aliases_of(model, version)}
    return shown  # its keys: "name", FIELDS, then SHOWN_FIELDS (mreg/core/version.py)
