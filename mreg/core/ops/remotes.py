"""`remote add`, `remote list`, `remote remove`: the remotes a registry knows, in `config.toml`."""

from __future__ import annotations

import uuid

from mreg.core.config import read_document, render_config
from mreg.core.fsutil import write_atomic
from mreg.core.remote.state import forget, validate_remote_name
from mreg.core.repo import Repo
from mreg.errors import NotFoundError, RefusedError, UsageError


def parse_options(options) -> dict[str, str]:
    """`K=V` strings (or a dict) as backend options."""
    if isinstance(options, dict):
        items = list(options.items())
    else:
        items = []
        for item in options:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"invalid --option {item!r}: expected KEY=VALUE")
            items.append((key, value))
    for key, value in items:
        if not isinstance(key, str) or not isinstance(value, str):
            raise UsageError("remote options are KEY=VALUE text")
    return dict(items)


def default_remote(remotes: dict) -> str | None:
    """`origin` if there is one, else the first remote added."""
    if "origin" in remotes:
        return "origin"
    return next(iter(remotes), None)


def chosen_remote(repo: Repo, remote: str | None) -> tuple[str, dict]:
    """(name, settings) of `remote`, or of the default remote."""
    remotes = repo.config.remotes
    name = remote or default_remote(remotes)
    if name is None:
        raise NotFoundError("this registry has no remote", hint="add one: mreg remote add origin URL")
    if name not in remotes:
        known = ", ".join(remotes) or "none"
        raise NotFoundError(f"no remote named {name!r}", hint=f"remotes: {known}")
    return name, remotes[name]


def remote_config(document: dict) -> bytes:
    """The config a remote registry holds: the registry's rules, without any machine's remotes."""
    return render_config({k: v for k, v in document.items() if k != "remotes"})


def probe_exclusive(storage) -> bool:
    """Whether a second create of one key is refused (the one primitive remotes need)."""
    key = f"probe/{uuid.uuid4().hex}"
    first = storage.create(key, b"1")
    second = storage.create(key, b"2")
    storage.delete(key)
    return first and not second


def ensure_remote(storage, config_bytes: bytes) -> bool:
    """Make `storage` a remote registry unless it is one; True if created now.

    The config is created first and the marker last, so a location with a
    marker always has its config; a run killed between them is completed by
    the next (the config's create finds it there).
    """
    from mreg.core.remote.format import CONFIG, MARKER, MAX_SMALL, check_marker, marker

    existing = storage.read(MARKER, MAX_SMALL)
    if existing is not None:
        check_marker(existing, storage.url)
        return False
    storage.create(CONFIG, config_bytes)
    return storage.create(MARKER, marker())


def add_remote(repo: Repo, name: str, url: str, *, options=(), single_writer: bool = False) -> dict:
    from mreg.core.remote.backends import open_storage

    validate_remote_name(name)
    if not url:
        raise UsageError("a remote needs a URL or a path")
    settings = parse_options(options)
    if name in repo.config.remotes:
        raise RefusedError(f"remote {name!r} already exists ({repo.config.remotes[name]['url']})",
                           hint=f"remove it first: mreg remote remove {name}")
    from mreg.core.remote.backends import is_remote_url
    import os

    if not is_remote_url(url):
        url = os.path.abspath(url)  # a path means the same folder from wherever the registry is used
    storage = open_storage(url, settings)
    exclusive = probe_exclusive(storage)
    if not exclusive and not single_writer:
        raise RefusedError(f"{url} does not refuse a second create of one key, so two writers could both add "
                           "the same log entry", hint="if only one machine ever writes there, pass --single-writer")
    with repo.locked():
        document = read_document(repo.layout.config)
        created = ensure_remote(storage, remote_config(document))
        remotes = document.setdefault("remotes", {})
        if name in remotes:
            raise RefusedError(f"remote {name!r} already exists")
        entry: dict = {"url": url}
        if settings:
            entry["options"] = settings
        if single_writer:
            entry["single_writer"] = True
        remotes[name] = entry
        write_atomic(repo.layout.config, render_config(document))
        forget(repo.layout, name)
    _reread_config(repo)
    return {"name": name, "url": url, "created": created, "exclusive_create": exclusive}


def _reread_config(repo: Repo) -> None:
    """Drop the config this registry object read before the change, so its next command sees the remote
    (a notebook calls remote_add and then push on one object)."""
    repo.__dict__.pop("config", None)


def list_remotes(repo: Repo) -> list[dict]:
    remotes = repo.config.remotes
    default = default_remote(remotes)
    return [{"name": name, "url": r["url"], "default": name == default, "lazy": r["lazy"]}
            for name, r in remotes.items()]


def remove_remote(repo: Repo, name: str) -> dict:
    chosen_remote(repo, name)
    with repo.locked():
        document = read_document(repo.layout.config)
        removed = document.get("remotes", {}).pop(name, None)
        if removed is None:
            raise NotFoundError(f"no remote named {name!r}")
        if not document["remotes"]:
            del document["remotes"]
        write_atomic(repo.layout.config, render_config(document))
        forget(repo.layout, name)
    _reread_config(repo)
    return {"name": name, "url": removed["url"]}
