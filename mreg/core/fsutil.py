"""Durable, atomic filesystem writes and the translation of OS failures.

Every file mreg changes is replaced whole: written to a temporary name in the
same directory, fsynced, renamed over the old name, and the directory fsynced,
so a reader or a crash sees the old bytes or the new, never half of either.

Inside `deferred_durability(root)` (a clone building a registry nobody uses
yet) writes under `root` skip their fsyncs, and one flush at the end makes
the whole tree durable at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
from collections.abc import Iterator

from mreg.errors import IntegrityError, MregError, StorageError

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


# The folder whose writes skip their fsyncs, for the code running in this context only: a context
# variable, not a global, so another thread (or a command run later in the same process) keeps
# every fsync. Nothing is collected: the flush covers the whole tree.
_DEFERRED: contextvars.ContextVar[str | None] = contextvars.ContextVar("mreg_deferred_durability", default=None)


@contextlib.contextmanager
def deferred_durability(root: str) -> Iterator[None]:
    """Within the block, writes under `root` skip their fsyncs; on leaving it normally, all of
    `root` is made durable in one step (`flush_tree`). For a tree no other process uses until the
    block ends (a clone): a crash inside it may lose any of those writes, so the caller must leave
    nothing there that looks finished before the flush."""
    token = _DEFERRED.set(os.path.abspath(root) + os.sep)
    try:
        yield
    finally:
        _DEFERRED.reset(token)
    flush_tree(root)


def durable(path: str) -> bool:
    """Whether a write to `path` must be fsynced now (False only under a `deferred_durability` root)."""
    deferred = _DEFERRED.get()
    return deferred is None or not (os.path.abspath(path) + os.sep).startswith(deferred)


def flush_tree(root: str) -> None:
    """Make every file and folder under `root` durable at once: syncfs of its filesystem, else
    os.sync, else (neither exists, e.g. Windows) an fsync of each file and folder in the tree."""
    try:
        syncfs(root)
        return
    except AttributeError:
        pass  # no os.sync either
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)


def storage_error(exc: OSError, what: str) -> MregError:
    """Wrap an OSError met while doing `what` in the error the user should see."""
    reason = _STORAGE_ERRNOS.get(exc.errno or 0, exc.strerror or str(exc))
    where = f": {exc.filename}" if exc.filename else ""
    return StorageError(f"cannot {what}: {reason}{where}")


def _open_nonblocking(path: str, flags: int) -> tuple[int, os.stat_result]:
    """Open to read without blocking on a FIFO; (fd, its stat), blocking again on return.

    `open()` of a FIFO waits for a writer forever. O_NONBLOCK returns at once
    (and changes nothing for a regular file); the caller looks at the stat
    before reading a byte.
    """
    import fcntl

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | flags)
    try:
        info = os.fstat(fd)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def open_for_reading(path: str, flags: int = 0) -> tuple[int, os.stat_result]:
    """Open a user's file (an artifact, a dataset, a metadata file) without blocking; (fd, its stat).

    A socket or a device with nothing behind it is a usage error; any other
    kind is for the caller to judge from the stat.
    """
    try:
        return _open_nonblocking(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            from mreg.errors import UsageError

            raise UsageError(f"{path} is not a regular file: a socket or a device") from None
        raise


@contextlib.contextmanager
def translate_os_errors(what: str) -> Iterator[None]:
    """Re-raise any OSError inside the block as a StorageError about `what`."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, what) from exc


def kind_of(mode: int) -> str:
    """What a file is, in words, for an error about a file that should be regular or a folder."""
    import stat

    for test, word in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISREG, "a regular file")):
        if test(mode):
            return word
    return "a special file"


def real_folder(path: str, *, create: bool = False) -> None:
    """Check that `path` (inside `.mreg/`) is a folder itself, not a link to one; make it with `create`.

    A registry copied from elsewhere is untrusted: a link planted where a
    folder belongs would make mreg read, write or delete outside the registry.
    """
    import stat

    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(path)
        except FileExistsError:
            pass  # made meanwhile by another writer: checked below like any other
        info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        # What the system would say on the way through it: reported as before, as a storage fault.
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
    if not stat.S_ISDIR(info.st_mode):
        raise IntegrityError(f"{path} is {kind_of(info.st_mode)}, not a folder; mreg never works through it",
                             hint="replace it with a real folder (or restore the registry from a backup)")


def real_folders(root: str, *parts: str, create: bool = False) -> str:
    """Check (and with `create`, make) every folder from `root` down through `parts`; return the last."""
    path = root
    for part in parts:
        path = os.path.join(path, part)
        real_folder(path, create=create)
    return path


def open_inside(path: str) -> tuple[int, os.stat_result] | str:
    """Open a file under `.mreg/` for reading, never through a final link, never blocking
    on a FIFO: (fd, its stat), blocking again, or what the file is instead ("a FIFO").

    FileNotFoundError passes through.
    """
    import stat

    try:
        fd, info = _open_nonblocking(path, os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link"
        if exc.errno == errno.ENXIO:
            return "a socket or a device"
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return kind_of(info.st_mode)
    return fd, info


def open_regular_file(path: str, what: str) -> tuple[int, os.stat_result]:
    """`open_inside`, with anything but a regular file an IntegrityError naming `what`."""
    opened = open_inside(path)
    if opened == "a symbolic link":
        raise IntegrityError(f"{what} is a symbolic link ({path}); mreg never follows one inside the registry")
    if isinstance(opened, str):
        raise IntegrityError(f"{what} is {opened}, not a regular file ({path})")
    return opened


def read_regular_file(path: str, what: str) -> bytes:
    """The whole of a small regular file under `.mreg/` (see open_regular_file)."""
    fd, info = open_regular_file(path, what)
    try:
        chunks = []
        while chunk := os.read(fd, max(info.st_size, 1 << 16)):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """Make a rename or unlink inside `path` durable (later, at once, under `deferred_durability`)."""
    if not durable(path):
        return
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
    try:
        # Inside the try: a signal's handler runs as soon as os.open returns,
        # and the file it made must not outlive the exception.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        try:
            write_all(fd, data)
            if durable(path):
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
    syncfs rather than os.sync: it waits only for the filesystem `path` is on,
    not for every other disk's dirty pages (on a shared machine, others' work).
    Where syncfs is missing (not Linux), os.sync; where that is missing too,
    AttributeError.
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
