"""A remote on a plain path or a `file://` URL: a shared folder, an NFS mount.

Exclusive create is a hard link: the bytes are written to a temporary file
beside the key and fsynced, then `os.link(temp, key)` gives them the key's
name only if nothing has it yet (atomic and no-clobber on local filesystems
and NFS alike), so a reader never sees partial content and of two writers
exactly one wins. Nothing is read through a link and only regular files are
read: the folder may be shared with people mreg does not trust.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Iterator

from mreg.core.fsutil import fsync_dir, open_inside, real_folder, storage_error, write_all
from mreg.core.remote.backends import CHUNK, TEMPORARY, check_key
from mreg.core.remote.storage import Leftover, Progress
from mreg.errors import IntegrityError, NotFoundError


def _path_of_url(url: str) -> str:
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            from mreg.errors import UsageError

            raise UsageError(f"file URL {url!r} names a host; write file:///PATH or a plain path")
        return unquote(parsed.path)
    return url


class FolderStorage:
    """A remote's keys as files under one folder."""

    threadsafe = True  # plain files: no state shared between calls

    def __init__(self, url: str, options: dict[str, str] | None = None) -> None:
        self.url = url
        self.root = os.path.abspath(_path_of_url(url))

    def __repr__(self) -> str:
        return f"<FolderStorage {self.root}>"

    def _path(self, key: str) -> str:
        # Keys are made by mreg from validated names; this is the last guard against leaving the root.
        return os.path.join(self.root, *check_key(key).split("/"))

    def _folders(self, key: str, *, create: bool) -> None:
        """Every folder from the root down to the key's, real (never a link); made with `create`."""
        path = self.root
        try:
            real_folder(path, create=create)
            for part in key.split("/")[:-1]:
                path = os.path.join(path, part)
                real_folder(path, create=create)
        except IntegrityError as exc:
            raise IntegrityError(f"remote {self.url}: {exc.message}") from None

    def _write_new(self, key: str, write) -> bool:
        path = self._path(key)
        try:
            self._folders(key, create=True)
            temp = os.path.join(os.path.dirname(path), f"{TEMPORARY}{uuid.uuid4().hex}")
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
                try:
                    write(fd)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                try:
                    os.link(temp, path)
                except FileExistsError:
                    return False
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            fsync_dir(os.path.dirname(path))
            return True
        except NotADirectoryError as exc:
            raise IntegrityError(f"remote {self.url}: {exc.filename} is a file where a folder belongs") from None
        except OSError as exc:
            raise storage_error(exc, f"write {key} to {self.url}") from None

    def create(self, key: str, data: bytes) -> bool:
        return self._write_new(key, lambda fd: write_all(fd, data))

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        def copy(fd: int) -> None:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    write_all(fd, chunk)
                    if progress:
                        progress(len(chunk))

        return self._write_new(key, copy)

    def _open(self, key: str) -> tuple[int, os.stat_result] | None:
        path = self._path(key)
        try:
            self._folders(key, create=False)
            opened = open_inside(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise storage_error(exc, f"read {key} from {self.url}") from None
        if isinstance(opened, str):
            raise IntegrityError(f"remote {self.url}: {key} is {opened}, not a regular file")
        return opened

    def read(self, key: str, limit: int) -> bytes | None:
        opened = self._open(key)
        if opened is None:
            return None
        fd, info = opened
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise IntegrityError(f"remote {self.url}: {key} is larger than {limit} bytes")
        return data

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        opened = self._open(key)
        if opened is None:
            raise NotFoundError(f"{key} is not on remote {self.url}")
        fd, _ = opened
        try:
            with os.fdopen(fd, "rb", closefd=False) as source, open(path, "xb") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if progress:
                        progress(len(chunk))
        finally:
            os.close(fd)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            self._folders(key, create=False)
            info = os.lstat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise storage_error(exc, f"look up {key} on {self.url}") from None
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_size

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        start = self.root if not prefix.strip("/") else self._path(prefix.rstrip("/"))

        def walk(folder: str, key: str) -> Iterator[tuple[str, int]]:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError):
                return
            except OSError as exc:
                raise storage_error(exc, f"list {self.url}") from None
            for entry in entries:
                if entry.name.startswith(TEMPORARY):
                    continue
                name = f"{key}{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(entry.path, name + "/")
                elif entry.is_file(follow_symlinks=False):
                    try:
                        size = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # deleted since the listing (a finished push's claim, another gc's sweep)
                    yield name, size

        try:
            if prefix.strip("/"):
                self._folders(prefix.rstrip("/") + "/x", create=False)
        except (FileNotFoundError, NotADirectoryError):
            return
        yield from walk(start, prefix if prefix.endswith("/") or not prefix else prefix + "/")

    def delete(self, key: str) -> None:
        try:
            self._folders(key, create=False)
            os.unlink(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            if exc.errno == errno.EISDIR:
                raise IntegrityError(f"remote {self.url}: {key} is a folder, not a file") from None
            raise storage_error(exc, f"delete {key} from {self.url}") from None

    def leftovers(self) -> Iterator[Leftover]:
        """The temporary files (`.mreg-tmp…`, beside their keys) of writes killed before the link."""
        pending = [self.root]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise storage_error(exc, f"list {self.url}") from None
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.name.startswith(TEMPORARY) and entry.is_file(follow_symlinks=False):
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # a running write linked its temporary into place since the listing
                    relative = os.path.relpath(entry.path, self.root).replace(os.sep, "/")
                    yield Leftover(relative, info.st_size, info.st_mtime, entry.path)

    def remove_leftover(self, leftover: Leftover) -> None:
        try:
            self._folders(leftover.name, create=False)  # no folder on the way swapped for a link since listed
            os.unlink(leftover.handle)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            raise storage_error(exc, f"delete {leftover.name} from {self.url}") from None
