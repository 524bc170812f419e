"""The content-addressed object store.

Every byte sequence is stored once, under `objects/ab/cdef…` named by its
SHA-256, read-only. Bytes are hashed as they are copied, in one pass and in
constant memory, so the stored bytes are exactly the hashed bytes even if the
source changes meanwhile.

Writers work inside an *intake*: a private folder under `intake/` for their
temporary files, plus a `pins` file listing every digest they are about to
reference, held under an flock for the writer's whole life. Garbage
collection never deletes a pinned object while the pin's owner lives, however
long that writer takes (see `gc.py` for the other half of the protocol).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator

from mreg.core.copying import CHUNK, copy_by_hand, copy_in_kernel, hash_fd, try_clone
from mreg.core.fsutil import file_kind, fsync_dir, open_for_reading, syncfs, translate_os_errors
from mreg.core.layout import Layout
from mreg.errors import IntegrityError, RefusedError, UsageError

DIGEST_PREFIX = "sha256:"
_HEX = frozenset("0123456789abcdef")
# A file at least this large is copied in the kernel (copy_file_range) and
# hashed back from the copy; smaller ones are not worth the extra calls.
_LARGE = 8 * CHUNK
# From this size on, a source's digest is remembered (mreg/core/cache.py) so
# that storing the same file again hashes it without copying it.
_HINT_MIN = 64 * CHUNK


def format_digest(hexdigest: str) -> str:
    return DIGEST_PREFIX + hexdigest


def parse_digest(digest: str) -> str:
    """The hex part of `sha256:<hex>`; an IntegrityError when malformed (it came from the index)."""
    hexpart = digest[len(DIGEST_PREFIX):] if digest.startswith(DIGEST_PREFIX) else ""
    # A set test, not a loop over characters: a 10,000-file register parses 20,000 digests.
    if len(hexpart) != 64 or not _HEX.issuperset(hexpart):
        raise IntegrityError(f"malformed digest {digest[:80]!r} in the index")
    return hexpart


class Intake:
    """One writer's workspace: temporary files and pins on the objects it will reference."""

    def __init__(self, layout: Layout, doing: str = "store the artifact") -> None:
        """`doing` ends the error line when the intake cannot be made ("cannot <doing>: …")."""
        import fcntl

        self.layout = layout
        self.path = os.path.join(layout.intake, uuid.uuid4().hex)
        self._count = 0
        with translate_os_errors(doing):
            os.makedirs(self.path)
            self._pins = os.open(os.path.join(self.path, "pins"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fcntl.flock(self._pins, fcntl.LOCK_EX)

    def temp_path(self) -> str:
        self._count += 1
        return os.path.join(self.path, f"tmp-{self._count}")

    def pin(self, hexdigest: str) -> None:
        """Claim an object before looking whether it exists (gc re-reads pins before deleting)."""
        os.write(self._pins, (hexdigest + "\n").encode())

    def close(self) -> None:
        import shutil

        if self._pins >= 0:
            # Remove the files while the pins still protect the objects; the
            # caller has committed (or given up on) everything it referenced.
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._pins)
            self._pins = -1

    def __enter__(self) -> "Intake":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        raise UsageError(f"{path} is a {file_kind(info.st_mode)}, not a regular file")
    if expect is not None and (info.st_dev, info.st_ino) != (expect.st_dev, expect.st_ino):
        os.close(fd)
        raise UsageError(f"{path} was replaced while being stored; register again")
    return fd, info


class ObjectStore:
    """Objects by digest: store, look up, read back verified."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def path(self, hexdigest: str) -> str:
        return self.layout.object_path(hexdigest)

    def exists(self, hexdigest: str) -> bool:
        return os.path.exists(self.path(hexdigest))

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
            from mreg.core.cache import remember_source

            remember_source(self.layout, os.fstat(fd), hexdigest)
        return hexdigest, size, temp

    def _stage_known(self, fd: int, intake: Intake, progress=None) -> tuple[str, int, None] | None:
        """A large source stored before: hash it without copying, and use the stored object.

        Only when a hint (mreg/core/cache.py) says its bytes are already in the
        store. The object is pinned before it is looked at (gc re-reads pins),
        and used only if the digest of the bytes read now names it; otherwise
        the source is rewound and copied as usual.
        """
        from mreg.core.cache import hinted_digest

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
        if hexdigest == hinted and self.exists(hexdigest):
            return hexdigest, size, None
        os.lseek(fd, 0, os.SEEK_SET)
        if progress and counted[0]:
            progress(-counted[0])  # the copy that follows reads the file again
        return None

    def install(self, hexdigest: str, temp: str | None, intake: Intake, *, durable: bool = True) -> bool:
        """Move a staged temporary file into the store under its digest.

        Returns False (and drops the temp) when the object already exists;
        temp is None when staging found it stored already. With durable=False
        the caller flushes a whole batch with `flush()` before anything refers to it.
        """
        intake.pin(hexdigest)
        final = self.path(hexdigest)
        if os.path.exists(final):
            if temp is not None:
                os.unlink(temp)
            return False
        if temp is None:
            raise IntegrityError(f"object {hexdigest[:12]} vanished while registering; register again")
        if durable:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(temp, 0o444)
        shard = os.path.dirname(final)
        os.makedirs(shard, exist_ok=True)
        os.replace(temp, final)
        if durable:
            fsync_dir(shard)
        return True

    def flush(self) -> None:
        """Make every object installed with durable=False durable at once."""
        syncfs(self.layout.objects)

    def put_bytes(self, data: bytes, intake: Intake) -> str:
        """Store a small byte string (a manifest); return its hex digest."""
        hexdigest = hashlib.sha256(data).hexdigest()
        intake.pin(hexdigest)
        if not os.path.exists(self.path(hexdigest)):
            temp = intake.temp_path()
            with open(temp, "wb") as handle:
                handle.write(data)
            self.install(hexdigest, temp, intake)
        return hexdigest

    # --- reading -----------------------------------------------------------
    def read_verified(self, hexdigest: str) -> bytes:
        """A whole small object, checked against its digest."""
        try:
            with open(self.path(hexdigest), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise IntegrityError(f"object {hexdigest[:12]} is missing from the store") from None
        if hashlib.sha256(data).hexdigest() != hexdigest:
            raise IntegrityError(f"object {hexdigest[:12]} is corrupt (its bytes do not match its digest)")
        return data

    def copy_verified(self, hexdigest: str, dst_fd: int, progress=None) -> int:
        """Copy an object into an open file, hashing on the way; IntegrityError on mismatch."""
        try:
            src = os.open(self.path(hexdigest), os.O_RDONLY)
        except FileNotFoundError:
            raise IntegrityError(f"object {hexdigest[:12]} is missing from the store") from None
        try:
            actual, total = copy_by_hand(src, dst_fd, os.fstat(src).st_size, progress)
        finally:
            os.close(src)
        if actual != hexdigest:
            raise IntegrityError(f"object {hexdigest[:12]} is corrupt (its bytes do not match its digest)")
        return total

    def check(self, hexdigest: str, progress=None) -> str | None:
        """Re-hash one object: None when sound, else what is wrong with it."""
        try:
            fd = os.open(self.path(hexdigest), os.O_RDONLY)
        except FileNotFoundError:
            return "missing"
        try:
            actual, _ = hash_fd(fd, progress)
        finally:
            os.close(fd)
        return None if actual == hexdigest else "corrupt (bytes do not match the digest)"

    def iter_objects(self) -> Iterator[tuple[str, str]]:
        """Every (hexdigest, path) in the store."""
        try:
            shards = os.scandir(self.layout.objects)
        except FileNotFoundError:
            return
        with shards:
            for shard in shards:
                if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        if len(entry.name) == 62:
                            yield shard.name + entry.name, entry.path
