"""The fast path: `mreg --help`, `register`, `get`, `diff`, `show`, `list`, `history` and a bash TAB, without typer.

Importing typer and building its click command costs about 40-50 ms, as
much as all the rest of such a call. These command lines need nothing of
it: this module reads the words with the grammar generated from the typer
app (mreg/cli/grammar.py) and calls the very functions the typer commands
call. Whatever it is not sure of — an unknown word, `--help` after a
command, a mistake to report, zsh or fish — it leaves to typer, which
answers as it always does. `_MREG_TYPER_ONLY=1` turns the fast path off
(the tests compare the two).
"""

from __future__ import annotations

import os
import sys

# The commands the fast path runs: name -> (module, function taking the
# command's parameters by their typer names).
RUNNERS = {
    "register": ("mreg.cli.bodies.registering", "register"),
    "get": ("mreg.cli.bodies.inspect", "get"),
    "diff": ("mreg.cli.bodies.diff", "diff"),
    "show": ("mreg.cli.bodies.inspect", "show"),
    "history": ("mreg.cli.bodies.inspect", "history"),
    "list": ("mreg.cli.bodies.inspect", "list_models"),
    "ls": ("mreg.cli.bodies.inspect", "list_models"),
}
_HELP = ("-h", "--help")
# How an option's text becomes its value, as click converts it; a value these
# refuse goes to typer, which reports it.
_CONVERT = {"str": str, "int": int, "float": float}


def run(argv: list[str]) -> bool:
    """Answer the command line if the fast path can; False leaves it to typer.

    `argv` comes without a leading global `--repo` (the entry point has
    taken it: mreg/cli/repo.py).
    """
    if os.environ.get("_MREG_TYPER_ONLY"):
        return False
    if "_MREG_COMPLETE" in os.environ:
        return _complete(os.environ["_MREG_COMPLETE"])
    if len(argv) == 1 and argv[0] in _HELP:
        return _root_help()
    if argv and argv[0] in RUNNERS:
        return _run_command(argv[0], argv[1:])
    return False


def _root_help() -> bool:
    import shutil

    # click wraps help at the terminal's width up to 80 columns; the text
    # kept is the one for 80 or more.
    if shutil.get_terminal_size().columns < 80:
        return False
    from mreg.cli.grammar import ROOT_HELP

    sys.stdout.write(ROOT_HELP)
    return True


def _parse(spec: dict, words: list[str]) -> tuple[dict, list[str]] | None:
    """(option values by parameter name, positional words), or None if anything is unusual."""
    values: dict = {dest: [] for dest, kind, _ in spec["options"].values() if kind == "list"}
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and word != "-":
            # `--opt=value`; click reads `-o=value` as the value "=value", so only long options split.
            name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
            if name in spec["options"] and (eq or i + 1 < len(words)):
                dest, kind, _ = spec["options"][name]
                if not eq:
                    i += 1
                    inline = words[i]
                if kind == "list":
                    values[dest].append(inline)
                elif kind in _CONVERT:
                    try:
                        values[dest] = _CONVERT[kind](inline)
                    except ValueError:
                        return None
                else:
                    return None
            elif word in spec["flags"] and word not in _HELP:
                dest, value = spec["flags"][word]
                values[dest] = value
            else:
                return None  # --help, `--`, bundled short flags, a mistake: typer's to answer
        else:
            positional.append(word)
        i += 1
    return values, positional


def _run_command(name: str, words: list[str]) -> bool:
    from mreg.cli.grammar import COMMANDS

    spec = COMMANDS[name]
    parsed = _parse(spec, words)
    if parsed is None:
        return False
    values, positional = parsed
    arguments = spec["arguments"]
    missing = arguments[len(positional):]
    if len(positional) > len(arguments) or any(required for _, _, required, _ in missing) \
            or any(nargs != 1 for _, nargs, _, _ in arguments):
        return False  # a missing or extra argument: typer's usage error
    values.update((arg_name, word) for (arg_name, _, _, _), word in zip(arguments, positional))
    module_name, function = RUNNERS[name]
    module = __import__(module_name, fromlist=[function])
    getattr(module, function)(**values)
    return True


def _complete(shell: str) -> bool:
    """A bash TAB on a command name or on a command's argument; anything else is typer's."""
    if shell != "complete_bash":
        return False
    from mreg.cli import bashline

    text = bashline.line()
    if any(c in text for c in "\"'\\"):
        return False  # quoting: click splits it like a shell would
    typed, incomplete = bashline.split(text)
    if incomplete.startswith("-"):
        return False  # options: typer lists them with their help
    # The completion functions find the PATH on the line themselves.
    from mreg.cli import repo

    candidates = _candidates(repo.leading(typed)[1], incomplete)
    if candidates is None:
        return False
    sys.stdout.write("".join(c + "\n" for c in bashline.relative(candidates, text)))
    return True


def _candidates(typed: list[str], incomplete: str) -> list[str] | None:
    from mreg.cli.grammar import COMMANDS

    if not typed:
        return [name for name, spec in COMMANDS.items() if not spec["hidden"] and name.startswith(incomplete)]
    spec = COMMANDS.get(typed[0])
    if spec is None:
        return None
    parsed = _parse(spec, typed[1:])
    if parsed is None:
        return None  # includes completing an option's value: `--repo` last, its value not typed yet
    position = len(parsed[1])
    arguments = spec["arguments"]
    if position >= len(arguments):
        return None
    _, nargs, _, completer = arguments[position]
    if nargs != 1 or completer is None:
        return None
    from mreg.cli import complete

    # No click context here: the completion functions find a typed --repo on the line.
    return getattr(complete, completer)(None, incomplete)
