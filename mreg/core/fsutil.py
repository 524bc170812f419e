"""Durable, atomic filesystem writes and the translation of OS failures.

Every file mreg changes is replaced whole: written to a temporary name in the
same directory, fsynced, renamed over the old name, and the directory fsynced,
so a reader or a crash sees the old bytes or the new, never half of either.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from mreg.errors import MregError, StorageError

# Failures of the machine rather than of the request: exit 5.
_STORAGE_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only filesystem",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "I/O error",
    errno.EFBIG: "file too large",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files",
}


def storage_error(exc: OSError, what: str) -> MregError:
    """Wrap an OSError met while doing `what` in the error the user should see."""
    reason = _STORAGE_ERRNOS.get(exc.errno or 0, exc.strerror or str(exc))
    where = f": {exc.filename}" if exc.filename else ""
    return StorageError(f"cannot {what}: {reason}{where}")


def file_kind(mode: int) -> str:
    """What a file is, in a word, for messages: "regular file", "directory", "FIFO"…"""
    import stat

    for test, kind in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device")):
        if test(mode):
            return kind
    return "special file"


def open_for_reading(path: str, flags: int = 0) -> tuple[int, os.stat_result]:
    """Open a file to read without blocking on a FIFO or a device; (fd, its stat).

    `open()` of a FIFO waits for a writer forever. O_NONBLOCK returns at once
    (and changes nothing for a regular file); the caller looks at the stat
    before reading a byte, and the flag is cleared for what follows.
    """
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a device with nothing behind it
            from mreg.errors import UsageError

            raise UsageError(f"{path} is not a regular file: a socket or a device") from None
        raise
    try:
        info = os.fstat(fd)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


@contextlib.contextmanager
def translate_os_errors(what: str) -> Iterator[None]:
    """Re-raise any OSError inside the block as a StorageError about `what`."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, what) from exc


def fsync_dir(path: str) -> None:
    """Make a rename or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of `data` (os.write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_atomic(path: str, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically and durably."""
    directory = os.path.dirname(path) or "."
    temp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(directory)


def syncfs(path: str) -> None:
    """Flush every dirty page of the filesystem holding `path` in one call.

    Storing ten thousand small files with one fsync each costs seconds; one
    syncfs before the renames gives the same durability for the whole batch.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), path)
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (None, errno.ENOSYS):
                raise
            os.sync()  # no syncfs here (not Linux): flush everything
    finally:
        os.close(fd)


class NotAFile(Exception):
    """What should be a regular file is something else: a folder, a FIFO, a device."""


def open_regular(path: str):
    """Open `path` for reading in binary, refusing anything but a regular file.

    A registry copied from elsewhere may hold a folder or a FIFO where a file
    belongs; O_NONBLOCK keeps a FIFO from hanging the open, and fstat then
    names it. FileNotFoundError and NotADirectoryError pass through.
    """
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
