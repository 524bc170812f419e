"""The content-addressed object store.

Every byte sequence is stored once, under `objects/ab/cdef…` named by its
SHA-256, read-only. Bytes are hashed as they are copied, in one pass and in
constant memory, so the stored bytes are exactly the hashed bytes even if the
source changes meanwhile.

Writers work inside an *intake* (`mreg/core/pins.py`, which owns the protocol
that keeps gc away from the objects a running writer is about to reference).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator

from mreg.core.copying import CHUNK, copy_by_hand, copy_in_kernel, hash_fd, try_clone
from mreg.core.fsutil import durable as fsync_now, fsync_dir, kind_of, open_for_reading, open_inside, real_folder, syncfs
from mreg.core.layout import Layout
from mreg.core.pins import Intake
from mreg.errors import IntegrityError, RefusedError, UsageError

DIGEST_PREFIX = "sha256:"
_HEX = frozenset("0123456789abcdef")
# A file at least this large is copied in the kernel (copy_file_range) and
# hashed back from the copy; smaller ones are not worth the extra calls.
_LARGE = 8 * CHUNK
# From this size on, a source's digest is remembered (mreg/core/cache/sources.py) so
# that storing the same file again hashes it without copying it.
_HINT_MIN = 64 * CHUNK
# Storing bytes that are already in the store re-hashes the stored object up
# to this size, and repairs it if it is damaged; above it, only its size is
# compared, so that registering a large file again stays about one hash.
_RECHECK_MAX = 64 * CHUNK


def format_digest(hexdigest: str) -> str:
    return DIGEST_PREFIX + hexdigest


def parse_digest(digest: str) -> str:
    """The hex part of `sha256:<hex>`; an IntegrityError when malformed (it came from the index)."""
    hexpart = digest[len(DIGEST_PREFIX):] if digest.startswith(DIGEST_PREFIX) else ""
    # A set test, not a loop over characters: a 10,000-file register parses 20,000 digests.
    if len(hexpart) != 64 or not _HEX.issuperset(hexpart):
        raise IntegrityError(f"malformed digest {digest[:80]!r} in the index")
    return hexpart


def open_regular(path: str, *, follow: bool, expect: os.stat_result | None = None) -> tuple[int, os.stat_result]:
    """Open a source file for reading, refusing anything but a regular file.

    With `expect`, the opened file must be the one seen when the folder was
    scanned: a file swapped for a link or another file in between is refused.
    """
    try:
        fd, info = open_for_reading(path, 0 if follow else os.O_NOFOLLOW)  # never blocks on a FIFO
    except FileNotFoundError:
        if expect is not None:
            raise RefusedError(f"{path} disappeared while being stored; register again") from None
        raise RefusedError(f"no such file: {path}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a symbolic link
            raise UsageError(f"{path} changed into a symbolic link while being stored") from None
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UsageError(f"{path} is {kind_of(info.st_mode)}, not a regular file")
    if expect is not None and (info.st_dev, info.st_ino) != (expect.st_dev, expect.st_ino):
        os.close(fd)
        raise UsageError(f"{path} was replaced while being stored; register again")
    return fd, info


class ObjectStore:
    """Objects by digest: store, look up, read back verified.

    Nothing found under `objects/` is trusted: the folder and its shards must
    be real folders and every object a regular file, opened without following
    a link and without blocking on a FIFO; anything else is an IntegrityError
    naming the object.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._real: set[str] = set()  # folders already checked to be real folders

    def path(self, hexdigest: str) -> str:
        return self.layout.object_path(hexdigest)

    def _folders(self, hexdigest: str, *, create: bool = False) -> None:
        """Check objects/ and the object's shard are real folders (make them with `create`)."""
        for folder in (self.layout.objects, os.path.dirname(self.path(hexdigest))):
            if folder not in self._real:
                real_folder(folder, create=create)
                self._real.add(folder)

    def exists(self, hexdigest: str) -> bool:
        """Whether the object is in the store as a regular file (a link or a FIFO is not an object)."""
        try:
            self._folders(hexdigest)
            return stat.S_ISREG(os.lstat(self.path(hexdigest)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def _open(self, hexdigest: str) -> tuple[int, os.stat_result] | str:
        """The object opened for reading, or what is wrong with it ("missing", "a FIFO, not a regular file"…)."""
        path = self.path(hexdigest)
        try:
            self._folders(hexdigest)
        except IntegrityError as exc:
            return f"out of reach: {exc.message}"
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        try:
            opened = open_inside(path)  # no link followed, no wait on a FIFO
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        return f"{opened}, not a regular file" if isinstance(opened, str) else opened

    def open(self, hexdigest: str) -> tuple[int, os.stat_result]:
        """Open an object for reading; IntegrityError if it is missing or not a regular file."""
        opened = self._open(hexdigest)
        if opened == "missing":
            raise IntegrityError(f"object {hexdigest[:12]} is missing from the store")
        if isinstance(opened, str):
            raise IntegrityError(f"object {hexdigest[:12]} is {opened} ({self.path(hexdigest)})")
        return opened

    def fault(self, hexdigest: str, progress=None) -> tuple[str | None, int]:
        """Re-hash one object: (None, size) when sound, else (what is wrong with it, 0)."""
        opened = self._open(hexdigest)
        if isinstance(opened, str):
            return opened, 0
        fd, _ = opened
        try:
            actual, size = hash_fd(fd, progress)
        finally:
            os.close(fd)
        return (None, size) if actual == hexdigest else ("corrupt (bytes do not match the digest)", 0)

    def check(self, hexdigest: str, progress=None) -> str | None:
        """Re-hash one object: None when sound, else what is wrong with it."""
        return self.fault(hexdigest, progress)[0]

    # --- writing -----------------------------------------------------------
    def stage_file(self, fd: int, size_hint: int, intake: Intake, progress=None) -> tuple[str, int, str]:
        """Copy an open source into a temporary file; return (hexdigest, size, temp path).

        A copy-on-write clone is tried first; it snapshots the source, so the
        clone is what gets hashed. User files are never hard-linked: an edit
        of the user's file would silently change the stored object.
        `progress` is told the size of each piece as it is hashed.
        """
        if size_hint >= _HINT_MIN:
            known = self._stage_known(fd, intake, progress)
            if known is not None:
                return known
        temp = intake.temp_path()
        out = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            if size_hint and try_clone(fd, out):
                with open(temp, "rb") as clone:
                    hexdigest, size = hash_fd(clone.fileno(), progress)
            else:
                copied = copy_in_kernel(fd, out, progress) if size_hint >= _LARGE else None
                hexdigest, size = copied if copied is not None else copy_by_hand(fd, out, size_hint, progress)
        finally:
            os.close(out)
        if size_hint >= _HINT_MIN:
            from mreg.core.cache.sources import remember_source

            remember_source(self.layout, os.fstat(fd), hexdigest)
        return hexdigest, size, temp

    def _stage_known(self, fd: int, intake: Intake, progress=None) -> tuple[str, int, None] | None:
        """A large source stored before: hash it without copying, and use the stored object.

        Only when a hint (mreg/core/cache/sources.py) says its bytes are already in the
        store. The object is pinned before it is looked at (gc re-reads pins),
        and used only if the digest of the bytes read now names it and the
        stored object still has their size; otherwise the source is rewound
        and copied as usual (and a damaged object is then repaired by `install`).
        """
        from mreg.core.cache.sources import hinted_digest

        hinted = hinted_digest(self.layout, os.fstat(fd))
        if hinted is None:
            return None
        intake.pin(hinted)
        if not self.exists(hinted):
            return None
        counted = [0]

        def advance(count: int) -> None:
            counted[0] += count
            if progress:
                progress(count)

        hexdigest, size = hash_fd(fd, advance)
        if hexdigest == hinted and self._sound(hexdigest, size) is True:
            return hexdigest, size, None
        os.lseek(fd, 0, os.SEEK_SET)
        if progress and counted[0]:
            progress(-counted[0])  # the copy that follows reads the file again
        return None

    def _sound(self, hexdigest: str, size: int) -> bool | None:
        """Whether a stored object can be trusted to hold `size` bytes hashing to `hexdigest`.

        None when there is no object. Its size is always compared; small
        objects are re-hashed as well (see _RECHECK_MAX).
        """
        opened = self._open(hexdigest)
        if opened == "missing":
            return None
        if isinstance(opened, str):
            return False  # a link, a FIFO…: replaced by the real bytes
        fd, info = opened
        try:
            if info.st_size != size:
                return False
            if size > _RECHECK_MAX:
                return True
            return hash_fd(fd)[0] == hexdigest
        finally:
            os.close(fd)

    def install(self, hexdigest: str, temp: str | None, intake: Intake, *, durable: bool = True) -> bool:
        """Move a staged temporary file into the store under its digest.

        Returns False (and drops the temp) when a sound object already exists;
        temp is None when staging found it stored already. An existing object
        that is damaged (wrong size, or wrong bytes when small enough to
        re-hash, or not a regular file) is replaced by the staged bytes, in
        one rename. With durable=False the caller flushes a whole batch with
        `flush()` before anything refers to it.
        """
        intake.pin(hexdigest)
        final = self.path(hexdigest)
        self._folders(hexdigest, create=True)
        if temp is None:
            if not self.exists(hexdigest):
                raise IntegrityError(f"object {hexdigest[:12]} vanished while registering; register again")
            return False
        sound = self._sound(hexdigest, os.lstat(temp).st_size)
        if sound:
            os.unlink(temp)
            return False
        durable = durable and fsync_now(final)  # not inside a clone: it flushes once at its end
        if durable:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(temp, 0o444)
        try:
            os.replace(temp, final)
        except IsADirectoryError:
            raise IntegrityError(f"object {hexdigest[:12]} is a folder, not a regular file ({final})") from None
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise IntegrityError(f"object {hexdigest[:12]} is a folder, not a regular file ({final})") from None
        if sound is False:
            from mreg.core import notices

            notices.warn(f"object {hexdigest[:12]} was damaged in the store; repaired from the bytes just stored")
        if durable:
            fsync_dir(os.path.dirname(final))
        return True

    def install_recovered(self, hexdigest: str, path: str) -> bool:
        """Put back an object a crashed gc left at `path`; False (dropping it) if the store has it again."""
        self._folders(hexdigest, create=True)
        if self.exists(hexdigest):
            os.unlink(path)  # stored again since: the store has these bytes
            return False
        os.replace(path, self.path(hexdigest))
        return True

    def flush(self) -> None:
        """Make every object installed with durable=False durable at once."""
        if fsync_now(self.layout.objects):
            syncfs(self.layout.objects)

    def put_bytes(self, data: bytes, intake: Intake) -> str:
        """Store a small byte string (a manifest); return its hex digest."""
        hexdigest = hashlib.sha256(data).hexdigest()
        intake.pin(hexdigest)
        if not self._sound(hexdigest, len(data)):
            temp = intake.temp_path()
            with open(temp, "wb") as handle:
                handle.write(data)
            self.install(hexdigest, temp, intake)
        return hexdigest

    # --- reading -----------------------------------------------------------
    def read_verified(self, hexdigest: str) -> bytes:
        """A whole small object, checked against its digest."""
        fd, _ = self.open(hexdigest)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        if hashlib.sha256(data).hexdigest() != hexdigest:
            raise IntegrityError(f"object {hexdigest[:12]} is corrupt (its bytes do not match its digest)")
        return data

    def copy_verified(self, hexdigest: str, dst_fd: int, progress=None) -> int:
        """Copy an object into an open file, hashing on the way; IntegrityError on mismatch."""
        src, info = self.open(hexdigest)
        try:
            actual, total = copy_by_hand(src, dst_fd, info.st_size, progress)
        finally:
            os.close(src)
        if actual != hexdigest:
            raise IntegrityError(f"object {hexdigest[:12]} is corrupt (its bytes do not match its digest)")
        return total

    def iter_objects(self) -> Iterator[tuple[str, str]]:
        """Every (hexdigest, path) in the store: names of 64 hex digits, in real shard folders.

        A link in place of `objects/` is an IntegrityError; links in place of
        shards are passed over (never entered), and so is anything not named
        like an object.
        """
        try:
            real_folder(self.layout.objects)
            shards = os.scandir(self.layout.objects)
        except FileNotFoundError:
            return
        with shards:
            for shard in shards:
                if len(shard.name) != 2 or not _HEX.issuperset(shard.name) or not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        if len(entry.name) == 62 and _HEX.issuperset(entry.name):
                            yield shard.name + entry.name, entry.path
