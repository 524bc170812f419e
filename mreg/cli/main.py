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
    "delete": "mreg alias NAME ALIAS --delete",
}


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that cleanup runs on the way out."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised through subprocess tests
    raise Terminated()


def report(message: str, hint: str | None = None) -> None:
    # One line, whatever a path or value in the message holds; a hint may be
    # several `hint:` lines on purpose (a filter and the caret under its fault).
    from mreg.cli.output import one_line

    print(f"mreg: error: {one_line(message)}", file=sys.stderr)
    if hint:
        print("hint: " + "\nhint: ".join(one_line(part) for part in hint.split("\nhint: ")), file=sys.stderr)


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

    code = 0
    try:
        # `mreg --repo PATH COMMAND …`, as git accepts `git -C PATH COMMAND`.
        argv = repo.take_leading(list(sys.argv[1:] if argv is None else argv))
        if not fast.run(argv):
            from mreg.cli.app import command

            result = command(argv).main(args=argv, prog_name="mreg", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        if code == ExitCode.INTERRUPTED:
            # typer turns Ctrl-C into a silent Exit(130) once the command has unwound.
            print(file=sys.stderr)
            report("interrupted")
        sys.stdout.flush()
    except MregError as exc:
        report(exc.message, exc.hint)
        code = int(exc.exit_code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        report("interrupted")
        code = ExitCode.INTERRUPTED
    except Terminated:
        report("terminated")
        code = ExitCode.TERMINATED
    except BrokenPipeError:
        _silence_stdout()
        code = 141
    except BaseException as exc:  # noqa: BLE001 - the last line of defence
        code = _report_unexpected(exc)
    wording.speak({})  # a caller that goes on in Python (tests) hears the API's words again
    sys.exit(code)


def _report_unexpected(exc: BaseException) -> int:
    # typer 0.27 vendors click as typer._click, but keeps Exit and Abort in typer.exceptions.
    from typer import exceptions as typer_exc
    from typer._click import exceptions as click_exc

    if isinstance(exc, typer_exc.Exit):
        return exc.exit_code
    if isinstance(exc, typer_exc.Abort):
        if isinstance(exc.__context__, Terminated):
            report("terminated")
            return ExitCode.TERMINATED
        report("interrupted")
        return ExitCode.INTERRUPTED
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
        report(message, hint)
        return exc.exit_code if exc.exit_code != 1 or not isinstance(exc, click_exc.UsageError) else ExitCode.USAGE
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
        report(error.message, error.hint)
        return int(error.exit_code)
    if os.environ.get("MREG_DEBUG"):
        raise exc
    report(f"internal error: {type(exc).__name__}: {exc}".replace("\n", " "),
           "run again with MREG_DEBUG=1 to see the traceback, and report it")
    return 1
