"""The storage a remote registry lives on, reduced to what mreg needs of it.

Keys are `/`-separated paths relative to the remote's root (`objects/ab/cdef…`,
`models/NAME/log/00000001.json`). The one primitive the whole protocol rests
on is `create`: write a key only if it does not exist, atomically, so that of
two writers racing for one key exactly one wins (S3 `If-None-Match: *`, GCS
`ifGenerationMatch=0`, Azure `If-None-Match`, SFTP and local `O_EXCL`). A
backend must never emulate it by checking and then writing.

Backends raise mreg's own errors: `StorageError` (exit 5) for an unreachable
server, refused credentials or a full disk; `IntegrityError` (exit 3) for
content that breaks a limit given by the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import NamedTuple, Protocol

Progress = Callable[[int], None]  # called with the number of bytes just moved


class Leftover(NamedTuple):
    """Something an upload killed half-way left on the storage: a temporary key or file, an unfinished multipart upload."""

    name: str  # where it is, for messages
    size: int  # bytes it holds
    time: float  # when it was last written to (seconds since the epoch, the server's clock)
    handle: object = None  # what the backend needs to remove it


class Storage(Protocol):
    """A remote's keys: exclusive create, streamed upload and download, list, delete."""

    url: str  # as the user wrote it, for messages
    # Whether calls may come from several threads at once (a pull then reads entries in parallel);
    # a backend without the attribute is called from one thread only.
    threadsafe: bool

    def create(self, key: str, data: bytes) -> bool:
        """Write `data` at `key` only if no such key exists: True if written, False if it existed."""

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        """Upload a local file to `key` only if no such key exists, streamed (in parallel parts when large).

        True if written, False if the key existed. A reader never sees a
        partial upload under `key`.
        """

    def read(self, key: str, limit: int) -> bytes | None:
        """A key's whole content, or None if it does not exist; IntegrityError past `limit` bytes."""

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        """Download `key` to a new local file at `path`, streamed; NotFoundError if it does not exist."""

    def exists(self, key: str) -> bool:
        """Whether `key` exists."""

    def size(self, key: str) -> int | None:
        """A key's size in bytes, or None if it does not exist."""

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every key under `prefix` (a folder-like prefix ending in `/`), at any depth."""

    def delete(self, key: str) -> None:
        """Remove `key`; no error if it is already gone."""

    # Optional: a backend whose uploads can leave something behind when killed has these two.
    # def leftovers(self) -> Iterator[Leftover]: every temporary key or unfinished upload
    # def remove_leftover(self, leftover: Leftover) -> None: remove one; no error if it is gone


# For measuring only (the benchmarks, and tests that a command's requests do
# not grow with the registry): with this variable naming a file, every storage
# operation appends one line to it, `OPERATION KEY`. A listing's line is
# written when it ends and also gives the number of keys it returned (S3 and
# GCS answer 1,000 keys per request). Unset, storages are used as they are.
LOG_VARIABLE = "MREG_STORAGE_LOG"


def logged(storage: Storage) -> Storage:
    """`storage` itself, or, when MREG_STORAGE_LOG names a file, a wrapper that logs every operation to it."""
    path = os.environ.get(LOG_VARIABLE)
    return _Logged(storage, path) if path else storage


class _Logged:
    def __init__(self, storage: Storage, path: str) -> None:
        self._storage = storage
        self._path = path

    def __getattr__(self, name: str):
        return getattr(self._storage, name)

    def _log(self, *words: object) -> None:
        with open(self._path, "a") as handle:
            handle.write(" ".join(str(w) for w in words) + "\n")

    def create(self, key: str, data: bytes) -> bool:
        self._log("create", key)
        return self._storage.create(key, data)

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        self._log("put_file", key)
        return self._storage.put_file(key, path, progress)

    def read(self, key: str, limit: int) -> bytes | None:
        self._log("read", key)
        return self._storage.read(key, limit)

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        self._log("get_file", key)
        return self._storage.get_file(key, path, progress)

    def exists(self, key: str) -> bool:
        self._log("exists", key)
        return self._storage.exists(key)

    def size(self, key: str) -> int | None:
        self._log("size", key)
        return self._storage.size(key)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        count = 0
        try:
            for item in self._storage.list(prefix):
                count += 1
                yield item
        finally:
            self._log("list", prefix or "/", count)

    def delete(self, key: str) -> None:
        self._log("delete", key)
        return self._storage.delete(key)
