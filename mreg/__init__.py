"""mreg — a git-like model registry for machine learning.

The Python API is the same core the `mreg` command uses, returning plain data:

    import mreg
    registry = mreg.init("/path/to/project")          # or mreg.open() to find one
    # mreg.open("s3://bucket/models", options={...}): a remote, written to directly
    v = registry.register("sentiment", "model.safetensors", metrics=["accuracy=0.93"])
    registry.promote("sentiment@1.0.0", to="production", reason="best so far")
    registry.show("sentiment@production")               # one version; show("sentiment"): every version
    registry.get("sentiment@production", "out/model.safetensors")   # makes out/ if needed
    [d["version"] for d in registry.search("metrics.accuracy > 0.9")]
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "init", "open", "clone", "Registry", "MregError"]


def init(path: str | None = None):
    """Create (or reuse) the registry in `path`; return it."""
    from mreg.core.registry import init as _init

    return _init(path)


def open(path: str | None = None, *, options: dict[str, str] | None = None):  # noqa: A001 - the verb users expect
    """Open the registry at `path`, MREG_REPO, or the nearest `.mreg/` upward.

    A remote URL (`s3://bucket/models`, `sftp://…`, `file://…`, or a folder
    holding a remote registry) is opened directly, as `mreg --repo URL` does:
    through a cached lazy clone, pulled now, whose every write is committed to
    the remote before it returns. `options` are its storage options, as
    `--option KEY=VALUE` gives them (default: `MREG_REPO_OPTIONS`).
    """
    import os

    from mreg.core.direct import is_remote

    chosen = os.fspath(path) if path else os.environ.get("MREG_REPO")
    if is_remote(chosen):
        from mreg.core.direct import open_direct

        return open_direct(chosen, options=options)
    if options is not None:
        from mreg.errors import UsageError

        raise UsageError(f"options are for a remote URL, and {chosen or 'the registry found'} is a local registry")
    from mreg.core.registry import open_registry

    return open_registry(path)


def clone(url: str, directory: str | None = None, *, options=(), lazy: bool = False):
    """Copy the remote registry at `url` into `directory`/.mreg (with the remote as `origin`); return it."""
    from mreg.core.registry import Registry, clone as _clone
    from mreg.core.layout import Layout
    import os

    report = _clone(url, directory, options=options, lazy=lazy)
    return Registry(Layout(os.path.join(report["path"], ".mreg")))


def __getattr__(name: str):
    # Keep `import mreg` free of work: the classes load on first use.
    if name == "Registry":
        from mreg.core.registry import Registry

        return Registry
    if name == "MregError":
        from mreg.errors import MregError

        return MregError
    raise AttributeError(name)
