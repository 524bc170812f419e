"""Reading and replacing the cache's files, and the identity of the index file an entry was derived from."""

from __future__ import annotations

import json
import os
import time

from mreg.core.fsutil import read_regular_file, real_folders
from mreg.core.layout import Layout
from mreg.errors import IntegrityError

CACHE_FORMAT = 1
RACY_NS = 2_000_000_000


def file_identity(info: os.stat_result) -> list[int]:
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def read_file(path: str) -> bytes:
    """A cache file's bytes; never through a link or from a FIFO (either counts as damage: rebuilt)."""
    try:
        return read_regular_file(path, "cache file")
    except IntegrityError as exc:
        raise ValueError(exc.message) from None


def read_cache(path: str) -> dict:
    try:
        data = json.loads(read_file(path))
        if data.get("format") != CACHE_FORMAT or not isinstance(data.get("models"), dict):
            return {}
        return data["models"]
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}


def replace_file(path: str, data: bytes) -> None:
    """Replace a cache file; silently give up where the registry is not writable."""
    temp = f"{path}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    try:
        # cache/ and cache/search/ are real folders or nothing is written: a
        # planted link would put these files outside the registry.
        root, _, inside = path.rpartition(f"{os.sep}cache{os.sep}")
        real_folders(root, "cache", *inside.split(os.sep)[:-1], create=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except (OSError, IntegrityError):
        try:
            os.unlink(temp)
        except OSError:
            pass


def write_cache(path: str, entries: dict, key: str = "models") -> None:
    data = {"format": CACHE_FORMAT, key: entries}
    replace_file(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def read_index(layout: Layout, name: str) -> tuple[list[int], dict] | None:
    """(identity, model) of an index read from one open file, so the two always agree; None if the model is gone."""
    from mreg.core import index as index_mod

    path = layout.index_path(name)
    read = index_mod.read_index_file(layout, name)
    if read is None:
        return None
    return file_identity(read[0]), index_mod.parse_model(read[1], path, name)
