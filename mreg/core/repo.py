"""The shared state of a registry, below the operations: a `.mreg/` folder opened
for reading and, under its lock, for writing.

`Repo` holds the layout, the config, the object store, model lookup and the
resolution of references; the operations (`mreg.core.ops`) take one and import
this module, never the `Registry` facade above them. Writes go through a
`Transaction`: it takes the lock, reads the models it changes fresh from disk,
buffers their events, and commits each model by appending its events to the
history and then atomically replacing its index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from mreg.core import index as index_mod
from mreg.core.config import Config, Lifecycle, default_config, load_config, render_config
from mreg.core.fsutil import real_folder, real_folders, translate_os_errors, write_atomic
from mreg.core.layout import REGISTRY_DIR, Layout
from mreg.core.lock import DEFAULT_TIMEOUT, RegistryLock
from mreg.core.names import Reference, alias_fault, parse_reference, validate_name
from mreg.core.semver import Version, is_version
from mreg.core.text import check_text
from mreg.core.version import document  # noqa: F401 - the operations take it from here too
from mreg.core.wording import name as spelled
from mreg.errors import NotFoundError, UsageError


# What `git add .` must not sweep into a project's repository: the stored bytes
# (often gigabytes), writers' temporary files, derived data, the lock, and what
# this copy knows of its remotes (how far each was pulled and pushed). The
# index and the history are small text; whether to commit them is the user's call.
GITIGNORE = """\
# Written by `mreg init`: the parts of the registry that do not belong in git.
# models/ (the index and the history) and config.toml are small text files that
# can be committed; to keep all of .mreg/ out of git, replace these lines with: *
/objects/
/intake/
/cache/
/lock
/lock.json
/remotes/
"""


def init_layout(path: str | None = None) -> Layout:
    """Create `.mreg/` in `path` (default: the current directory); harmless to repeat; return its layout."""
    project = os.path.abspath(path or os.getcwd())
    return init_root(project if os.path.basename(project) == REGISTRY_DIR else os.path.join(project, REGISTRY_DIR))


def init_root(root: str) -> Layout:
    """Create a registry in the folder `root` itself (a `.mreg/`, or a clone's folder before it is renamed to one)."""
    layout = Layout(root)
    with translate_os_errors("create the registry"):
        os.makedirs(root, exist_ok=True)
        for folder in (layout.objects, layout.models, layout.intake):
            real_folder(folder, create=True)  # in a registry copied from elsewhere, a link there is refused
        if not os.path.exists(layout.config):
            write_atomic(layout.config, render_config(default_config()))
        if not os.path.lexists(layout.gitignore):  # the user's own edits are kept
            write_atomic(layout.gitignore, GITIGNORE.encode())
    return layout


def sorted_versions(model: dict) -> list[str]:
    return sorted(model["versions"], key=Version.parse)


def no_model(name: str) -> NotFoundError:
    """The error for a model that has no versions (or never had any)."""
    return NotFoundError(f"no model named {name!r}", hint="mreg list shows the models")


def parse_version_reference(ref: str | Reference, *, explicit: bool) -> Reference:
    """Parse `ref`; with `explicit`, a bare NAME is refused (commands that change a version need NAME@…)."""
    reference = parse_reference(ref) if isinstance(ref, str) else ref
    if explicit and reference.selector is None:
        raise UsageError(
            f"{reference.name!r} names a model, not a version",
            hint=f"write {reference.name}@VERSION, {reference.name}@latest, {reference.name}@STAGE or {reference.name}@ALIAS",
        )
    return reference


class Repo:
    """One registry's state: what every operation reads, and the way to write (`transaction`)."""

    def __init__(self, layout: Layout, lock_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.layout = layout
        self.lock_timeout = lock_timeout
        self._lock = RegistryLock(layout.lock, layout.lock_info)

    def __repr__(self) -> str:
        # Cheap on purpose (a notebook shows it after every cell): the path, read nothing.
        return f"<mreg.{type(self).__name__} {self.root}>"

    @cached_property
    def store(self):
        """The object store (imported on first use: reading the index needs no hashing).

        In a lazy clone, objects missing here are fetched from the remote when read.
        """
        lazy = [remote for remote in self.config.remotes.values() if remote["lazy"]]
        if lazy:
            from mreg.core.remote.lazy import LazyStore

            return LazyStore(self.layout, lazy[0]["url"], lazy[0]["options"])
        from mreg.core.store import ObjectStore

        return ObjectStore(self.layout)

    @property
    def root(self) -> str:
        return self.layout.root

    @cached_property
    def config(self) -> Config:
        return load_config(self.layout.config)

    @property
    def lifecycle(self) -> Lifecycle:
        return self.config.lifecycle

    @cached_property
    def user(self) -> str:
        from mreg.core.lineage import current_user

        return current_user()

    # --- reading the index -------------------------------------------------
    def model(self, name: str) -> dict:
        """A model's index document; NotFoundError if it has no versions."""
        validate_name(name)
        model = index_mod.load_model(self.layout, name)
        if model is None or not model["versions"]:
            raise no_model(name)
        return model

    def model_names(self) -> list[str]:
        return sorted(index_mod.iter_model_names(self.layout))

    def resolve(self, model: dict, selector: str | None) -> str:
        """The version a selector names in `model`: a version, `latest`, a stage, or an alias."""
        versions = model["versions"]
        name = model["name"]
        if selector in (None, "latest"):
            return max(versions, key=Version.parse)
        if is_version(selector):
            version = str(Version.parse(selector))
            if version not in versions and version in model.get("removed", ()):
                raise NotFoundError(f"{name}@{version} was removed",
                                    hint=f"mreg history {name}@{version} shows when, by whom and why")
            if version not in versions:
                known = ", ".join(sorted_versions(model)[-5:])
                raise NotFoundError(f"{name} has no version {version}", hint=f"latest versions: {known}")
            return version
        if selector in self.lifecycle.stages:
            holders = [v for v, r in versions.items() if r["stage"] == selector]
            if not holders:
                raise NotFoundError(f"{name} has no version in {selector}")
            return max(holders, key=lambda v: (versions[v]["created_at"], Version.parse(v)))
        aliases = model.get("aliases") or {}
        if selector in aliases:
            return aliases[selector]
        if alias_fault(selector) is None:
            # Spelled like an alias that is not set: not found, as an absent version is.
            known = f"its aliases: {', '.join(sorted(aliases))}" if aliases else f"it has no aliases; mreg alias {name}@VERSION ALIAS sets one"
            raise NotFoundError(f"{name} has no alias or stage {selector!r}", hint=known)
        raise UsageError(
            f"invalid reference {name}@{selector}: {selector!r} is not a version, 'latest', a stage or an alias",
            hint=f"stages: {', '.join(self.lifecycle.stages)}",
        )

    def lookup(self, ref: str | Reference, *, explicit: bool = False) -> tuple[dict, str]:
        """(model, version) for a reference; `explicit` demands NAME@… (commands that change a version)."""
        reference = parse_version_reference(ref, explicit=explicit)
        model = self.model(reference.name)
        return model, self.resolve(model, reference.selector)

    # --- writing -------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the registry lock (for writers that replace a model's files themselves: pull)."""
        self.config
        with translate_os_errors("take the registry lock"):
            real_folder(self.layout.models, create=True)
        self._lock.acquire(self.lock_timeout)
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def transaction(self) -> Iterator["Transaction"]:
        """Hold the lock; commit every buffered change on success, none on error."""
        self.config  # a damaged or newer-format config stops every write, not only some
        with translate_os_errors("take the registry lock"):
            real_folder(self.layout.models, create=True)
        self._lock.acquire(self.lock_timeout)
        try:
            tx = Transaction(self)
            yield tx
            tx.commit()
        finally:
            self._lock.release()


class Transaction:
    """Changes to one or more models, committed together under the registry lock."""

    def __init__(self, registry: Repo) -> None:
        self.registry = registry
        self._models: dict[str, dict] = {}
        self._events: dict[str, list[dict]] = {}
        self._now: str | None = None

    @property
    def now(self) -> str:
        """One timestamp for every event of the transaction."""
        if self._now is None:
            from mreg.core.timeparse import format_time, utc_now

            self._now = format_time(utc_now())
        return self._now

    def model(self, name: str, *, create: bool = False) -> dict:
        """A model's index, read fresh under the lock (and cached for this transaction)."""
        if name not in self._models:
            model = index_mod.load_model(self.registry.layout, name)
            if model is None:
                if not create:
                    raise no_model(name)
                model = index_mod.new_model(name)
            elif not model["versions"] and not create:
                raise no_model(name)
            self._models[name] = model
            self._events[name] = []
        return self._models[name]

    def adopt(self, model: dict) -> None:
        """Work on `model` (built by the caller, e.g. replayed from a remote's events) instead of reading it."""
        self._models[model["name"]] = model
        self._events[model["name"]] = []

    def buffered(self, name: str) -> list[dict]:
        """The events recorded for `name` and not yet committed (unsealed)."""
        return self._events.get(name, [])

    def lookup(self, ref: str, *, explicit: bool = True) -> tuple[dict, str]:
        """(model, version) for a reference, read fresh under the lock; NAME@… unless `explicit` is False."""
        reference = parse_version_reference(ref, explicit=explicit)
        model = self.model(reference.name)
        return model, self.registry.resolve(model, reference.selector)

    def record(self, model: dict, action: str, version: str | None, *, source: str | None = None,
               target: str | None = None, reason: str = "", details: dict | None = None) -> dict:
        """Buffer one event for `model`.

        `details` holds what the event changed, enough to apply it again
        (mreg/core/replay.py). It is copied now: a record it holds may change
        again later in the same transaction, and the event must keep this state.
        """
        import json

        check_text(reason, spelled("reason"))
        event = {
            "time": self.now,
            "user": self.registry.user,
            "action": action,
            "name": model["name"],
            "version": version,
            "from": source,
            "to": target,
            "reason": reason,
            "details": json.loads(json.dumps(details)) if details else {},
        }
        self._events[model["name"]].append(event)
        return event

    def commit(self) -> None:
        from mreg.core import history

        layout = self.registry.layout
        for name, events in self._events.items():
            if not events:
                continue
            model = self._models[name]
            meta = model["history"]
            sealed = []
            prev, seq = meta["head"], meta["events"]
            for event in events:
                seq += 1
                event = history.seal(event, prev, seq)
                prev = event["hash"]
                sealed.append(event)
            path = layout.history_path(name)
            with translate_os_errors(f"write the history of {name}"):
                # Every folder down to the model's, made where missing and never a link:
                # a planted link would put the index and history outside the registry.
                real_folders(layout.root, "models", *name.split("/"), create=True)
                size = history.append(path, meta["bytes"], sealed, count=meta["events"], head=meta["head"])
                model["history"] = {"events": seq, "bytes": size, "head": prev}
                index_mod.save_model(layout, model)
            events.clear()
