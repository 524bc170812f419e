"""Working directly on a remote (`--repo URL`, `MREG_REPO=URL`): a cached lazy clone per URL.

The cache lives in the user's cache folder (`$MREG_CACHE_DIR`, else
platformdirs' user cache dir for mreg), one lazy clone per URL. Before each
command it is pulled, so reads see the remote's state; objects are fetched
only when a command reads them. A write runs on the clone and is then pushed
as the model's next log entry, created exclusively. When another writer got
that entry first, the write is undone locally, the new state pulled, and the
whole operation run again on top of it, every rule checked again (version
numbers, exclusive stages, transitions): a bounded number of times with
jittered back-off, then exit 4 naming the model.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import time

from mreg.core.registry import Registry
from mreg.errors import BusyError

ATTEMPTS = 12
# Every Registry method that changes the registry: each is pushed before it returns.
WRITES = ("register", "transition", "promote", "rollback", "update", "remove", "gc", "alias", "unalias", "deploy",
          "undeploy", "approve", "reject")
# The rest read it (or act on the remote themselves); a test fails when a new method is in neither list,
# so a write can never be left unpushed on the cached clone.
READS = ("show", "versions", "list", "get", "get_version", "object_path", "check", "approvals", "aliases", "history",
         "search", "diff", "lineage", "manifest", "all_documents", "verify", "deployments", "export_deployment",
         "remote_add", "remote_list", "remote_remove", "push", "pull", "verify_remote", "gc_remote")
MARKER = "mreg-remote.json"


def is_remote(value: str | None) -> bool:
    """Whether a `--repo` value names a remote registry (a URL, or a folder holding one) rather than a local one."""
    if not value:
        return False
    from mreg.core.remote.backends import is_remote_url

    return is_remote_url(value) or os.path.isfile(os.path.join(value, MARKER))


def url_options() -> dict[str, str]:
    """The storage options of a `--repo URL` (`MREG_REPO_OPTIONS`: `KEY=VALUE` pairs separated by spaces),
    as `--option` gives them to `mreg clone` and `mreg remote add`."""
    from mreg.core.ops.remotes import parse_options

    return parse_options(os.environ.get("MREG_REPO_OPTIONS", "").split())


def cache_dir() -> str:
    override = os.environ.get("MREG_CACHE_DIR")
    if override:
        return override
    from platformdirs import user_cache_dir

    return user_cache_dir("mreg")


def _cache_for(url: str) -> str:
    key = url if "://" in url else os.path.abspath(url)
    return os.path.join(cache_dir(), "remotes", hashlib.sha256(key.encode()).hexdigest()[:24])


def _locked_cache(folder: str):
    """An exclusive flock on the cache for one whole write (pull, operation, push), across processes."""
    import fcntl

    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, "direct.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def open_direct(url: str, lock_timeout: float | None = None, options: dict[str, str] | None = None
                ) -> "DirectRegistry":
    """The cached clone of the remote at `url`, pulled now.

    `options` are the storage options of `url`; None takes `MREG_REPO_OPTIONS` for a new clone and
    keeps those a cached clone was made with.
    """
    from mreg.core.layout import REGISTRY_DIR, Layout
    from mreg.core.lock import DEFAULT_TIMEOUT
    from mreg.core.ops.sync import clone, pull

    folder = _cache_for(url)
    fd = _locked_cache(folder)
    try:
        root = os.path.join(folder, REGISTRY_DIR)
        if not os.path.isfile(os.path.join(root, "config.toml")):
            import shutil

            shutil.rmtree(root, ignore_errors=True)  # a clone killed half-way (from before clones were renamed in)
            for leftover in os.listdir(folder):  # what a killed clone builds in; this flock excludes a running one
                if leftover.startswith(REGISTRY_DIR + ".clone-"):
                    shutil.rmtree(os.path.join(folder, leftover), ignore_errors=True)
            clone(url if "://" in url else os.path.abspath(url), folder,
                  options=url_options() if options is None else options, lazy=True)
            registry = DirectRegistry(Layout(root), lock_timeout or DEFAULT_TIMEOUT)
        else:
            registry = DirectRegistry(Layout(root), lock_timeout or DEFAULT_TIMEOUT)
            if options is not None:
                _set_options(registry, options)
            # Outside a running write (which holds this flock) the cache holds nothing unpushed; a write
            # killed before its push left events that were never committed to the remote: drop them.
            _drop_unpushed(registry, None)
            pull(registry, "origin")
    finally:
        os.close(fd)
    return registry


def _set_options(registry: Registry, options: dict[str, str]) -> None:
    """Give the cached clone's `origin` these storage options (new credentials, another endpoint) if it has others."""
    from mreg.core.config import read_document, render_config
    from mreg.core.fsutil import write_atomic
    from mreg.core.ops.remotes import parse_options

    options = parse_options(options)
    if registry.config.remotes["origin"].get("options", {}) == options:
        return
    with registry.locked():
        document = read_document(registry.layout.config)
        origin = document["remotes"]["origin"]
        if options:
            origin["options"] = options
        else:
            origin.pop("options", None)
        write_atomic(registry.layout.config, render_config(document))
    registry.__dict__.pop("config", None)  # read again with the new options


def _drop_unpushed(registry: Registry, names: list[str] | None) -> None:
    """Undo the local events of `names` (None: every model) that the remote has not got."""
    from mreg.core import history, index as index_mod, replay
    from mreg.core.remote.state import load_state

    with registry.locked():
        state = load_state(registry.layout, "origin")
        for name in registry.model_names() if names is None else names:
            model = index_mod.load_model(registry.layout, name)
            if model is None:
                continue
            known = state.get(name, [0, 0])[1]
            if model["history"]["events"] <= known:
                continue
            meta = model["history"]
            events = history.read_events(registry.layout.history_path(name), meta["events"], meta["head"], name)
            # Only the index is replaced: the events past its head are then an uncommitted tail,
            # which the next writer truncates (the ordinary crash recovery).
            index_mod.save_model(registry.layout, replay.rebuild(name, events[:known]))


def _direct_write(method):
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        from mreg.core.ops.sync import pull, push

        folder = os.path.dirname(self.root)
        fd = _locked_cache(folder)
        try:
            rejected: list[str] = []
            for attempt in range(ATTEMPTS):
                result = method(self, *args, **kwargs)
                report = push(self, "origin")
                rejected = report["rejected"]
                if not rejected:
                    return result
                _drop_unpushed(self, rejected)
                time.sleep(random.uniform(0, min(2.0, 0.02 * 2 ** attempt)))
                pull(self, "origin", rejected)
            raise BusyError(f"other writers kept changing {', '.join(rejected)} on the remote; gave up after "
                            f"{ATTEMPTS} attempts", hint="run the command again")
        finally:
            os.close(fd)

    return run


class DirectRegistry(Registry):
    """A registry whose writes are committed to its remote (`origin`) before they return."""


for _name in WRITES:
    setattr(DirectRegistry, _name, _direct_write(getattr(Registry, _name)))


# The reads an index answers alone: served from the view (snapshots and the entries after them).
VIEWED = ("show", "versions", "list", "search")


def open_view(url: str, lock_timeout: float | None = None) -> "ViewRegistry":
    """The index-only view of the remote at `url` (mreg/core/ops/remote_view.py), brought up to date now.

    Its VIEWED reads read the view's index files; every other method runs on
    the cached clone (`open_direct`), opened on first use.
    """
    from mreg.core.layout import REGISTRY_DIR, Layout
    from mreg.core.lock import DEFAULT_TIMEOUT
    from mreg.core.ops.remote_view import refresh
    from mreg.core.ops.sync import connect, init_from_remote, remote_config

    url = url if "://" in url else os.path.abspath(url)
    folder = os.path.join(_cache_for(url), "view")
    fd = _locked_cache(folder)
    try:
        options = url_options()
        storage = connect(url, options, reading=True)  # the refresh only lists and reads
        root = os.path.join(folder, REGISTRY_DIR)
        if not os.path.isfile(os.path.join(root, "config.toml")):
            import shutil

            shutil.rmtree(root, ignore_errors=True)  # a view killed half-way
            init_from_remote(remote_config(storage, url), url, folder, options, True)
        registry = ViewRegistry(Layout(root), url, lock_timeout or DEFAULT_TIMEOUT)
        registry.read = refresh(registry, storage)
    finally:
        os.close(fd)
    return registry


class ViewRegistry(Registry):
    """A remote's index-only view: VIEWED reads from it, everything else on the cached clone."""

    def __init__(self, layout, url: str, lock_timeout: float) -> None:
        super().__init__(layout, lock_timeout)
        self.url = url
        self.read: dict = {}  # what the last refresh read (entries, snapshots, snapshots passed over)
        self._direct: DirectRegistry | None = None

    def full(self) -> DirectRegistry:
        """The cached clone of the same remote (every event, for the history and for writes), pulled now."""
        if self._direct is None:
            self._direct = open_direct(self.url, self.lock_timeout)
        return self._direct


def _viewed(name: str):
    method = getattr(Registry, name)

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        from mreg.errors import IntegrityError

        try:
            return method(self, *args, **kwargs)
        except IntegrityError:
            # The view was checked when it was read from the remote, so it was damaged on disk since:
            # the cached clone answers (with its own error if the remote is at fault), and the next
            # refresh rebuilds the view from the remote.
            from mreg.core.remote.state import forget

            forget(self.layout, "origin")
            return getattr(self.full(), name)(*args, **kwargs)

    return run


def _on_clone(name: str):
    method = getattr(Registry, name)

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return getattr(self.full(), name)(*args, **kwargs)

    return run


for _name in WRITES + READS:
    setattr(ViewRegistry, _name, _viewed(_name) if _name in VIEWED else _on_clone(_name))
