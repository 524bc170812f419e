"""The registry lock: one writer of the index and history at a time.

It is an `flock` on `.mreg/lock`, so the kernel releases it the moment its
holder dies, however it dies: no lock outlives a crash. `lock.json` says who
holds it (pid, host, since, command) so that a waiter can name the holder, and
so that the next holder can tell when its predecessor died while holding it.

We use fcntl directly rather than the `filelock` package: importing filelock
costs 60–90 ms (it pulls in asyncio), paid by every write command, and it
gives neither the holder diagnostics nor the dead-holder notice we need.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import time

from mreg.core import notices
from mreg.core.fsutil import kind_of, read_regular_file, translate_os_errors
from mreg.core.wording import name as spelled
from mreg.errors import BusyError, IntegrityError

DEFAULT_TIMEOUT = 30.0


def _hostname() -> str:
    # The same name socket.gethostname() returns, without importing socket
    # (a few ms on every command that opens the registry).
    return os.uname().nodename


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no such pid can exist
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def kernel_holder(lock_fd: int) -> int | None:
    """The pid holding an flock on the file open as `lock_fd`, from /proc/locks (Linux)."""
    info = os.fstat(lock_fd)
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks") as handle:
            for line in handle:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF" (blocked waiters say "->")
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode and "->" not in fields:
                    return int(fields[4])
    except (OSError, ValueError):
        return None
    return None


def read_info(info_path: str) -> dict | None:
    """lock.json checked against its schema; None if it is malformed. It only names the
    holder, so a damaged one never stops a command. FileNotFoundError if there is none."""
    from mreg.core.schema import lock_info_fault

    try:
        info = json.loads(read_regular_file(info_path, "lock.json") or b"null")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError, IntegrityError):
        return None
    return None if lock_info_fault(info) else info


def describe_holder(info_path: str, lock_fd: int | None = None) -> str:
    """Who holds the lock, in words: from lock.json, else from the kernel's lock table."""
    try:
        info = read_info(info_path)
    except FileNotFoundError:
        pid = kernel_holder(lock_fd) if lock_fd is not None else None
        if pid is not None:
            return f"pid {pid} on {_hostname()} (it has not written lock.json)"
        return "another process (it has not yet said who it is)"
    if info is None:
        return "an unknown process (lock.json is unreadable)"
    pid, host, since = info["pid"], info["host"], float(info["since"])
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    age = max(0.0, time.time() - since)
    command = info.get("command")
    what = f" ({command})" if isinstance(command, str) and command else ""
    return f"pid {pid} on {host}{what} since {stamp} ({age:.0f}s ago)"


def _remove_planted(path: str) -> None:
    """Take away whatever is at `path` (a link, a FIFO, an empty folder), never what it points to."""
    try:
        os.unlink(path)
    except IsADirectoryError:
        os.rmdir(path)
    except FileNotFoundError:
        pass


class RegistryLock:
    """An exclusive, re-entrant (within one object) lock on the registry."""

    def __init__(self, lock_path: str, info_path: str) -> None:
        self.lock_path = lock_path
        self.info_path = info_path
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._depth > 0

    def acquire(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        if self._depth:
            self._depth += 1
            return
        import fcntl

        with translate_os_errors("take the registry lock"):
            fd = self._open_lock_file()
        deadline = time.monotonic() + max(0.0, timeout)
        delay = 0.002
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise BusyError(
                            f"registry is locked by {describe_holder(self.info_path, fd)}; gave up after {timeout:g}s",
                            hint=f"wait for it to finish, or raise {spelled('lock_timeout')}",
                        ) from None
                    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                    # A short ceiling: a holder commits in a few ms, and a waiter
                    # asleep for 100 ms left the lock idle while 15 others queued.
                    delay = min(delay * 2, 0.01)
            self._note_dead_predecessor()
            self._write_info()
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._depth = 1

    def _note_dead_predecessor(self) -> None:
        try:
            info = read_info(self.info_path)
        except FileNotFoundError:
            return
        if info is None:
            return
        pid, host = info["pid"], info["host"]
        if pid != os.getpid() and host == _hostname() and not _pid_alive(pid):
            notices.warn(f"broke the lock of pid {pid}, which died while holding it; recovering its work")

    def _write_info(self) -> None:
        info = {
            "pid": os.getpid(),
            "host": _hostname(),
            "since": time.time(),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3])),
        }
        data = json.dumps(info).encode()
        with translate_os_errors("take the registry lock"):
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
            try:
                fd = os.open(self.info_path, flags, 0o644)
                if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO with a reader at the other end
                    os.close(fd)
                    raise OSError(errno.EINVAL, "not a regular file", self.info_path)
            except OSError:
                # A link, a FIFO or a folder where lock.json belongs is never written
                # through: the lock holder owns this name, so it replaces what is there.
                _remove_planted(self.info_path)
                fd = os.open(self.info_path, flags | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def _open_lock_file(self) -> int:
        """The lock file, opened without following a link or blocking; it must be a regular file."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise IntegrityError(f"{self.lock_path} is not a regular file; mreg never works through it",
                                     hint="remove it (no mreg command is running) and try again") from None
            raise
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise IntegrityError(f"{self.lock_path} is {kind_of(mode)}, not a regular file; mreg never works through it",
                                 hint="remove it (no mreg command is running) and try again")
        return fd

    def release(self) -> None:
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth:
            return
        fd, self._fd = self._fd, None
        try:
            os.unlink(self.info_path)
        except OSError:
            pass
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> "RegistryLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
