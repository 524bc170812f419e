"""Intakes, pins and gc's trash: how gc never deletes an object that a running register will reference.

A writer works inside an *intake*: a private folder under `intake/` for its
temporary files, plus a `pins` file listing every digest it is about to
reference, held under an flock for the writer's whole life. This module owns
both halves of the protocol: the writer's (`Intake`, `recover_trash`) and
gc's (`live_pins`, `take_away`, `clean_dead_intakes`).


1. gc holds the registry lock for its whole run, so no version is committed
   while it decides, and no second gc runs at once.
2. A register pins every object (appends its digest to `intake/ID/pins`,
   flocked for the register's whole life) *before* it looks whether the object
   exists. gc skips every object pinned by a live intake, however old.
3. A pin can land after gc read the pins. So gc first renames its candidates
   into its own trash folder, then reads the pins again and puts back any that
   are pinned now, and only then deletes. A register that looked before the
   rename is pinned before the second read; one that looked after the rename
   found no object and stored its own copy.
4. If gc dies with objects in its trash, the next gc puts them back first. A
   register that pinned one of them meanwhile finds it missing when it checks,
   under the lock, before committing; it puts the trash back itself (no gc can
   run while it holds the lock) and refuses only if an object is still missing
   (nothing is committed; run it again).
5. Only objects older than the grace period are candidates, as a last guard.

Nothing under `.mreg/` is trusted: `objects/` and `intake/` must be real
folders (a link there is an IntegrityError naming it), and links found in
place of a shard, an intake, a trash folder or an object are never entered
or followed. """

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import stat
import time
import uuid

from mreg.core.fsutil import read_regular_file, real_folder, translate_os_errors
from mreg.core.layout import Layout
from mreg.errors import IntegrityError

_TRASH = "trash"
_HEX = frozenset("0123456789abcdef")


# Intakes made by this process and not yet closed. A Ctrl-C or SIGTERM can land
# after an intake is made but before the `with` around it has been entered
# (Python runs a signal handler at the start of `__enter__`), where no cleanup
# would ever see it; an exit handler closes what is left.
_unclosed: set["Intake"] = set()


def _close_unclosed() -> None:
    for intake in list(_unclosed):
        intake.close()


atexit.register(_close_unclosed)


class Intake:
    """One writer's workspace: temporary files and pins on the objects it will reference."""

    def __init__(self, layout: Layout, doing: str = "store the artifact") -> None:
        """`doing` ends the error line when the intake cannot be made ("cannot <doing>: …")."""
        import fcntl

        self.layout = layout
        self.path = os.path.join(layout.intake, uuid.uuid4().hex)
        self._count = 0
        self._pins = -1
        with translate_os_errors(doing):
            # Never through a link: a planted `intake` link would put writes outside the registry.
            real_folder(layout.intake, create=True)
            _unclosed.add(self)
            os.mkdir(self.path)
            try:
                self._pins = os.open(os.path.join(self.path, "pins"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                fcntl.flock(self._pins, fcntl.LOCK_EX)
            except BaseException:  # an interrupt too: nobody else will remove the folder just made
                self._remove()
                raise

    def temp_path(self) -> str:
        self._count += 1
        return os.path.join(self.path, f"tmp-{self._count}")

    def pin(self, hexdigest: str) -> None:
        """Claim an object before looking whether it exists (gc re-reads pins before deleting)."""
        os.write(self._pins, (hexdigest + "\n").encode())

    def close(self) -> None:
        if self in _unclosed:
            # Remove the files while the pins still protect the objects; the
            # caller has committed (or given up on) everything it referenced.
            self._remove()

    def _remove(self) -> None:
        """Delete the folder whole: a Ctrl-C or SIGTERM meanwhile waits until it is gone."""
        import shutil
        import signal

        deferred = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
        try:
            shutil.rmtree(self.path, ignore_errors=True)
            if self._pins >= 0:
                os.close(self._pins)
                self._pins = -1
            _unclosed.discard(self)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def __enter__(self) -> "Intake":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def intake_state(path: str) -> str:
    """'live' if a writer holds the intake's pins, 'dead' if none does, 'new' if not yet claimed."""
    import fcntl

    try:
        # Never through a link, never blocking on a FIFO planted as `pins`.
        fd = os.open(os.path.join(path, "pins"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return "new"
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        return "dead"  # a link, not a pins file a writer made: nobody holds it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "live"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return "dead"
    finally:
        os.close(fd)


def intakes(layout: Layout) -> list[str]:
    """Every intake folder; a link in place of `intake/` is refused, links inside it are passed over."""
    try:
        real_folder(layout.intake)
        return [entry.path for entry in os.scandir(layout.intake) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def live_pins(layout: Layout, skip: str | None = None) -> set[str]:
    """Digests pinned by writers that are still running (and by brand-new intakes)."""
    pinned: set[str] = set()
    for path in intakes(layout):
        if path == skip or intake_state(path) == "dead":
            continue
        try:
            data = read_regular_file(os.path.join(path, "pins"), f"pins file of {path}")
        except (FileNotFoundError, IntegrityError):
            continue  # gone, or not a pins file (a link, a FIFO): it protects nothing
        # Only whole lines: a pin being written right now is re-read in step 3.
        # latin-1 decodes any bytes: a pin that is not hex protects nothing, and crashes nothing.
        pinned.update(line.decode("latin-1") for line in data.split(b"\n")[:-1] if len(line) == 64)
    return pinned


def recover_trash(layout: Layout, store) -> int:
    """Put back objects a crashed gc had moved to its trash; return how many.

    Only regular files named like objects, in a trash that is a real folder,
    are moved: a planted link (as the trash, or in it) is never followed. A
    trash left holding anything else keeps its intake for inspection.
    """
    restored = 0
    for path in intakes(layout):
        trash = os.path.join(path, _TRASH)
        try:
            if not stat.S_ISDIR(os.lstat(trash).st_mode) or intake_state(path) == "live":
                continue
        except FileNotFoundError:
            continue
        for name in os.listdir(trash):
            entry = os.path.join(trash, name)
            if len(name) != 64 or not _HEX.issuperset(name) or not stat.S_ISREG(os.lstat(entry).st_mode):
                continue
            restored += store.install_recovered(name, entry)
        # An empty trash is the crashed gc's last trace; without it the intake is cleaned up.
        with contextlib.suppress(OSError):
            os.rmdir(trash)
    return restored


def take_away(layout: Layout, candidates: list[tuple[str, str, int]], own: Intake, progress_for) -> tuple[int, int]:
    """Delete the candidates by way of gc's trash (step 3 of the protocol); return the objects and bytes freed."""
    import shutil

    trash = os.path.join(own.path, _TRASH)
    os.mkdir(trash)
    advance = progress_for(sum(size for _, _, size in candidates)) if progress_for else None
    for hexdigest, path, size in candidates:
        os.rename(path, os.path.join(trash, hexdigest))
        if advance:
            advance(size)
    pinned_now = live_pins(layout, skip=own.path)
    objects = freed = 0
    for hexdigest, path, size in candidates:
        if hexdigest in pinned_now:
            os.rename(os.path.join(trash, hexdigest), path)
        else:
            objects += 1
            freed += size
    shutil.rmtree(trash)
    return objects, freed


def clean_dead_intakes(layout: Layout, cutoff: float, dry_run: bool, skip: str | None) -> int:
    """Remove what crashed writers left behind, once older than the grace period."""
    import shutil

    cleaned = 0
    for path in intakes(layout):
        state = "live" if path == skip else intake_state(path)
        if state == "live":
            continue
        try:
            mtime = os.lstat(path).st_mtime
        except FileNotFoundError:
            continue
        # A folder without pins yet may be a writer between creating it and
        # locking its pins: give it a minute whatever --grace says.
        if mtime >= cutoff or (state == "new" and mtime >= time.time() - 60):
            continue
        if os.path.lexists(os.path.join(path, _TRASH)):
            continue  # recover_trash could not restore everything; keep it for inspection
        cleaned += 1
        if not dry_run:
            shutil.rmtree(path, ignore_errors=True)
    return cleaned
