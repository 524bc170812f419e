"""The entry point: run the app, and turn every failure into one line and an exit code.

This is the one place exceptions become exit statuses (the table in the
README); commands just raise.
"""

from __future__ import annotations

import os
import signal
import sys

from mreg.errors import ExitCode, MregError


# The options the operations' errors name, as the command line spells them
# (the Python API's own words are the parameter names: mreg/core/wording.py).
OPTION_NAMES = {
    "metrics": "--metric", "params": "--param", "tags": "--tag", "datasets": "--dataset",
    "description": "--description", "reason": "--reason", "framework": "--framework", "unset": "--unset",
    "version": "--version", "bump": "--bump", "stage": "--stage", "follow_symlinks": "--follow-symlinks",
    "destination": "-o/--output", "force": "--force", "path": "--path", "limit": "--limit", "to": "--to",
    "all_versions": "--all", "lock_timeout": "--lock-timeout", "repo": "--repo PATH", "init": "mreg init",
    "condition": "--if", "if_missing": "--if-missing",
    "derived_from": "--from", "depth": "--depth",
    "traffic": "--traffic", "split": "--split", "rollback": "--rollback",
    "env": "--env", "override": "--override",
    "delete": "mreg alias NAME ALIAS --delete",
}

# What each exit code is called in the JSON error document.
ERROR_KINDS = {
    ExitCode.REFUSED: "refused", ExitCode.USAGE: "usage", ExitCode.INTEGRITY: "integrity", ExitCode.BUSY: "busy",
    ExitCode.IO: "io", ExitCode.INTERRUPTED: "interrupted", ExitCode.TERMINATED: "interrupted",
}
# The command line being run: a failure is also a JSON document when it asks for JSON.
_argv: list[str] = []


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that cleanup runs on the way out."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised through subprocess tests
    raise Terminated()


def report(message: str, hint: str | None = None, lines: tuple[str, ...] = ()) -> None:
    # One line, whatever a path or value in the message holds; a hint may be
    # several `hint:` lines on purpose (a filter and the caret under its fault).
    # `lines` say what led to the error (each clause of a failed condition).
    from mreg.cli.output import one_line

    print(f"mreg: error: {one_line(message)}", file=sys.stderr)
    for line in lines:
        print(f"  {one_line(line)}", file=sys.stderr)
    if hint:
        print("hint: " + "\nhint: ".join(one_line(part) for part in hint.split("\nhint: ")), file=sys.stderr)


def fail(code: int, message: str, hint: str | None = None, *, lines: tuple[str, ...] = (),
         data: dict | None = None, document: dict | None = None) -> int:
    """Report a failure on stderr, and as one JSON document on stdout when the command line has --json."""
    report(message, hint, lines)
    if _wants_json():
        from mreg.cli.output import print_json

        error = {"code": int(code), "kind": ERROR_KINDS.get(code, "refused"), "message": message,
                 "hint": None if hint is None else hint.replace("\nhint: ", "\n")}
        try:
            print_json({**(document or {}), "error": {**error, **(data or {})}})
            sys.stdout.flush()
        except OSError:  # stdout closed or full: stderr has said it already
            pass
    return int(code)


def _wants_json() -> bool:
    words = _argv[: _argv.index("--")] if "--" in _argv else _argv
    if "--json" in words:
        return True
    from mreg.cli import settings

    try:
        return settings.wants_json(False)
    except MregError:  # unreadable user settings: that is the error being reported
        return False


def _silence_stdout() -> None:
    # The reader went away (`mreg list | head -1`): stop writing quietly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    from mreg.cli import fast, repo
    from mreg.core import wording

    wording.speak(OPTION_NAMES)

    global _argv
    code = 0
    _argv = list(sys.argv[1:] if argv is None else argv)
    try:
        # `mreg --repo PATH COMMAND …`, as git accepts `git -C PATH COMMAND`.
        argv = repo.take_leading(list(_argv))
        if not fast.run(argv):
            from mreg.cli.app import command

            result = command(argv).main(args=argv, prog_name="mreg", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        if code == ExitCode.INTERRUPTED:
            # typer turns Ctrl-C into a silent Exit(130) once the command has unwound.
            print(file=sys.stderr)
            fail(code, "interrupted")
        sys.stdout.flush()
    except MregError as exc:
        hint = exc.hint
        if hint is None and getattr(exc, "text", None) and hasattr(exc, "pointer"):
            # A filter or condition that does not parse: itself, with a caret under the fault.
            hint = "\nhint: ".join(exc.pointer().split("\n"))
        code = fail(exc.exit_code, exc.message, hint, lines=exc.lines, data=exc.data, document=exc.document)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        code = fail(ExitCode.INTERRUPTED, "interrupted")
    except Terminated:
        code = fail(ExitCode.TERMINATED, "terminated")
    except BrokenPipeError:
        _silence_stdout()
        code = 141
    except BaseException as exc:  # noqa: BLE001 - the last line of defence
        code = _report_unexpected(exc)
    wording.speak({})  # a caller that goes on in Python (tests) hears the API's words again
    sys.exit(code)


def _report_unexpected(exc: BaseException) -> int:
    # Only typer can have raised its own exceptions: the fast path never imports it.
    code = _typer_failure(exc) if "typer" in sys.modules else None
    if code is not None:
        return code
    if isinstance(exc, SystemExit):
        if isinstance(exc.__context__, BrokenPipeError):
            # typer met the closed pipe first (`mreg history | head -1`) and
            # exits 1, which means "refused" here: answer as for SIGPIPE.
            _silence_stdout()
            return 141
        return exc.code if isinstance(exc.code, int) else 1
    if isinstance(exc, OSError):
        from mreg.core.fsutil import storage_error

        error = storage_error(exc, "complete the operation")
        if os.environ.get("MREG_DEBUG"):
            raise exc
        return fail(error.exit_code, error.message, error.hint)
    if os.environ.get("MREG_DEBUG"):
        raise exc
    return fail(ExitCode.REFUSED, f"internal error: {type(exc).__name__}: {exc}".replace("\n", " "),
                "run again with MREG_DEBUG=1 to see the traceback, and report it")


def _typer_failure(exc: BaseException) -> int | None:
    """The exit code of one of typer's or click's exceptions (reported), None for any other."""
    # typer 0.27 vendors click as typer._click, but keeps Exit and Abort in typer.exceptions.
    from typer import exceptions as typer_exc
    from typer._click import exceptions as click_exc

    if isinstance(exc, typer_exc.Exit):
        return exc.exit_code
    if isinstance(exc, typer_exc.Abort):
        if isinstance(exc.__context__, Terminated):
            return fail(ExitCode.TERMINATED, "terminated")
        return fail(ExitCode.INTERRUPTED, "interrupted")
    if isinstance(exc, click_exc.NoArgsIsHelpError):
        # Bare `mreg` (or a group without its command): the help, not an error line.
        print(exc.format_message(), file=sys.stderr)
        return ExitCode.USAGE
    if isinstance(exc, click_exc.ClickException):
        message = exc.format_message().replace("\n", " ")
        hint = None
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            hint = f"see `{ctx.command_path} --help`"
        code = exc.exit_code if exc.exit_code != 1 or not isinstance(exc, click_exc.UsageError) else ExitCode.USAGE
        return fail(code, message, hint)
    return None
