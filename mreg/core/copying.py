"""Copying bytes into the store while hashing them, in one pass and in constant memory.

What is hashed is always the stored copy (or, by hand, exactly the bytes
written), so a digest names the bytes kept even if the source changes
meanwhile. Three ways, fastest first: a copy-on-write clone (`try_clone`,
then `hash_fd` over the clone), the kernel's copy_file_range with the hash
running beside it (`copy_in_kernel`), and a copy by hand (`copy_by_hand`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import threading

from mreg.core.fsutil import write_all

CHUNK = 1 << 20
# Reads for hashing go into one reused buffer of at most this size: a fresh
# 4 MiB bytes object per read costs an allocation and its page faults each time.
READ_SIZE = 4 * CHUNK
_MIN_BUFFER = 64 * 1024
# From this size on, reads run on a second thread ahead of the hash; below
# it, starting the thread costs more than the overlap saves.
READ_AHEAD_MIN = 8 * CHUNK
# The kernel copies this much per call: small enough that the hash can start
# early and a stop request is seen soon, large enough that calls are few.
PIECE = 16 * CHUNK
_FICLONE = 0x40049409
_copy_file_range = getattr(os, "copy_file_range", None)


def try_clone(src_fd: int, dst_fd: int) -> bool:
    """A copy-on-write clone (btrfs, XFS, …): instant, and a snapshot of the source."""
    try:
        import fcntl

        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return True
    except OSError:
        return False


def hash_fd(fd: int, progress=None) -> tuple[str, int]:
    """The SHA-256 and length of what is left to read in `fd`; `progress` is told each chunk's size.

    From READ_AHEAD_MIN on, the reads run on a second thread, ahead of the
    hash (see `_Feeder`); `fd` is left at the end of the file either way.
    """
    left = os.fstat(fd).st_size - os.lseek(fd, 0, os.SEEK_CUR)
    if left < READ_AHEAD_MIN:
        return _pump(fd, None, left, progress)
    hashed = _hash_fed(_Feeder(fd), progress)
    os.lseek(fd, 0, os.SEEK_END)
    return hashed


def copy_by_hand(src_fd: int, dst_fd: int, size_hint: int, progress=None) -> tuple[str, int]:
    """Copy src to dst through Python, returning the SHA-256 and length of exactly the bytes written.

    For small files, where the kernel cannot copy (another filesystem, an old
    kernel), and for `get`, whose reader must see each byte anyway. It stays
    on the main thread, so a signal (Ctrl-C, SIGTERM) always interrupts it
    cleanly; `progress` is told each chunk's size.
    """
    return _pump(src_fd, dst_fd, size_hint, progress)


def _pump(src_fd: int, dst_fd: int | None, size_hint: int, progress) -> tuple[str, int]:
    """Read src to its end, hashing each chunk and writing it to dst (if any)."""
    digest = hashlib.sha256()
    # Sized to the file: zero-filling a 4 MiB buffer for a 10 KB file costs
    # more than reading the file (a 10,000-file register makes 10,000).
    buffer = memoryview(bytearray(min(READ_SIZE, max(_MIN_BUFFER, size_hint))))
    total = 0
    while count := os.readv(src_fd, [buffer]):
        piece = buffer[:count]
        digest.update(piece)
        if dst_fd is not None:
            write_all(dst_fd, piece)
        total += count
        if progress:
            progress(count)
    return digest.hexdigest(), total


def _writeback_starter():
    """A function that asks the kernel to start writing a range to disk now.

    Hashing a piece while the disk already writes it means the fsync before
    the commit finds little left to do: measured on 1 GiB here, 1.3-1.4 s in
    all against 1.8-2.0 s with the whole write left to the fsync. Linux's
    sync_file_range(SYNC_FILE_RANGE_WRITE) only starts the writeback; it
    promises nothing, so the fsync stays. Elsewhere, a no-op.
    """
    try:
        import ctypes

        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return lambda fd, offset, length: None
    call.argtypes = (ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint)
    start_write = 2  # SYNC_FILE_RANGE_WRITE

    def start(fd: int, offset: int, length: int) -> None:
        call(fd, offset, length, start_write)  # a failure only means no head start

    return start


class _Feeder(threading.Thread):
    """Reads a file into a few reused buffers on its own thread while the caller hashes them.

    With `copy_from`, it first copies each piece into the file with
    copy_file_range, then reads the piece back from the copy: what the caller
    hashes is the stored copy itself. Reading (and copying) here while the
    caller hashes takes the memory copies off the hash's path; on 1 GiB the
    reads alone are about a quarter of a hash. The thread works on its own
    duplicates of the descriptors, so the caller may close its own at any
    moment (an interrupt) without this thread ever touching a number the
    process has since reused for another file.
    """

    CANNOT_COPY = "cannot copy"

    def __init__(self, fd: int, copy_from: int | None = None) -> None:
        super().__init__(name="mreg-read", daemon=True)
        self.fd = os.dup(fd)
        self.offset = os.lseek(fd, 0, os.SEEK_CUR) if copy_from is None else 0
        self.source = None if copy_from is None else os.dup(copy_from)
        # Each filled buffer goes to `filled` as (buffer, count), then None at
        # the end, or what stopped the work (an OSError, or CANNOT_COPY before
        # anything was copied); the caller hands buffers back through `free`.
        self.filled: queue.SimpleQueue = queue.SimpleQueue()
        self.free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(3):
            self.free.put(memoryview(bytearray(READ_SIZE)))
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.free.put(None)  # wakes a thread waiting for a buffer

    def run(self) -> None:
        try:
            if self.source is None:
                self._read(None)
            else:
                self._copy_and_read()
            self.filled.put(None)
        except OSError as exc:
            self.filled.put(exc)
        finally:
            os.close(self.fd)
            if self.source is not None:
                os.close(self.source)

    def _copy_and_read(self) -> None:
        writeback = _writeback_starter()
        while not self.stopping.is_set():
            try:
                copied = _copy_file_range(self.source, self.fd, PIECE)
            except OSError:
                if self.offset == 0:
                    self.filled.put(self.CANNOT_COPY)  # EXDEV, ENOSYS, EINVAL…
                    self.stopping.set()
                    return
                raise
            if copied == 0:
                return
            writeback(self.fd, self.offset, copied)
            if not self._read(self.offset + copied):
                raise OSError(errno.EIO, "stored copy is shorter than what was copied")

    def _read(self, end: int | None) -> bool:
        """Hand over the bytes from the current offset up to `end` (None: the end of the file)."""
        while end is None or self.offset < end:
            buffer = self.free.get()
            if buffer is None or self.stopping.is_set():
                return True
            want = READ_SIZE if end is None else min(READ_SIZE, end - self.offset)
            count = os.preadv(self.fd, [buffer[:want]], self.offset)
            if count == 0:
                self.free.put(buffer)
                return end is None
            self.filled.put((buffer, count))
            self.offset += count
        return True


def _hash_fed(feeder: _Feeder, progress=None) -> tuple[str, int] | None:
    """The SHA-256 and length of what `feeder` hands over; None if it could not copy."""
    digest = hashlib.sha256()
    total = 0
    feeder.start()
    try:
        # The main thread only waits here and hashes: a signal (Ctrl-C,
        # SIGTERM) interrupts the wait, and the finally stops the feeder.
        while (item := feeder.filled.get()) is not None:
            if item is _Feeder.CANNOT_COPY:
                return None
            if isinstance(item, OSError):
                raise item
            buffer, count = item
            digest.update(buffer[:count])
            feeder.free.put(buffer)
            total += count
            if progress:
                progress(count)
    finally:
        feeder.stop()
    feeder.join()
    return digest.hexdigest(), total


def copy_in_kernel(src_fd: int, dst_fd: int, progress=None) -> tuple[str, int] | None:
    """Copy with copy_file_range on a second thread while this one hashes what is already copied.

    The kernel copies page to page (writing the same bytes from Python
    measured 2-3x slower for 1 GiB), and each piece is hashed back from the
    destination while the next one is being copied, so a large register
    costs about one hash rather than a copy plus a hash. None, with nothing
    copied, where the kernel or the filesystems cannot do it. `progress` is
    told the size of each piece as it is hashed.
    """
    if _copy_file_range is None:
        return None
    return _hash_fed(_Feeder(dst_fd, copy_from=src_fd), progress)
