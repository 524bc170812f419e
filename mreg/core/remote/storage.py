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
