"""The error hierarchy: every failure mreg reports carries its exit code (the table in the README)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Stable exit codes, the contract with shell scripts and CI jobs."""

    OK = 0
    REFUSED = 1  # refused or not found
    USAGE = 2  # bad arguments, name, version, value or filter
    INTEGRITY = 3  # an artifact, the index or the history is corrupt
    BUSY = 4  # the registry lock could not be taken in time
    IO = 5  # disk full, read-only registry, permission denied
    INTERRUPTED = 130
    TERMINATED = 143


class MregError(Exception):
    """Base of every error mreg reports to the user as one line (and a hint)."""

    exit_code: ExitCode = ExitCode.REFUSED
    # Lines shown under the error line (the clauses of a condition that failed);
    # keys added to the `error` object `--json` prints; and the command's own
    # document, when it has one to give with the failure (verify's report), which
    # `--json` prints with `error` added, so stdout still holds one document.
    lines: tuple[str, ...] = ()
    data: dict | None = None
    document: dict | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFoundError(MregError):
    """No registry, model or version by that name."""

    exit_code = ExitCode.REFUSED


class RefusedError(MregError):
    """The operation is understood but not allowed (transition, existing version…)."""

    exit_code = ExitCode.REFUSED


class ConditionFailed(RefusedError):
    """A move's condition (`--if`) is false, or unknown without `--if-missing pass`; nothing moved."""

    exit_code = ExitCode.REFUSED


class UsageError(MregError):
    """Bad input: an invalid name, version, value, duration or filter."""

    exit_code = ExitCode.USAGE


class IntegrityError(MregError):
    """Stored bytes, the index, the config or the history do not check out."""

    exit_code = ExitCode.INTEGRITY


class BusyError(MregError):
    """The registry lock is held by another process past the lock timeout."""

    exit_code = ExitCode.BUSY


class StorageError(MregError):
    """The filesystem refused: disk full, read-only, permission denied."""

    exit_code = ExitCode.IO
