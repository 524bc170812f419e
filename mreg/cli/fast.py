"""The fast path: a command line, `mreg --help` and a bash TAB, answered without typer.

Importing typer and building its click command costs about 40-50 ms, as
much as all the rest of such a call. None of it is needed to run a command:
this module reads the words with the grammar generated from the typer app
(mreg/cli/grammar.py, by scripts/generate_grammar.py) and calls the
command's body (mreg/cli/bodies/) with the values typer would have passed.
The generator refuses any parameter it could not read exactly as click
does, and any body whose parameters or defaults differ from its
declaration's, so the two ways agree by construction. Whatever this module
is not sure of — an unknown word, `--help`, a missing or extra argument, a
value that does not convert, zsh or fish — it leaves to typer, which answers
as it always does (and reports the mistake). A command without a body runs
under typer only. `_MREG_TYPER_ONLY=1` turns the fast path off (the tests
compare the two).
"""

from __future__ import annotations

import os
import sys

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
    if argv:
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
    # An option not given is not passed: the body's default is the declaration's, which is
    # what typer passes (None for `Optional[list[str]] = None`, not an empty list).
    values: dict = {}
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
                    values.setdefault(dest, []).append(inline)
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


def _bind(arguments: list, positional: list[str]) -> dict | None:
    """{argument name: value} as click assigns the words, or None if a word is missing or left over.

    An argument not given is not passed: the body's default is the
    declaration's (the generator checks), which is what typer passes. Words
    of an argument that takes any number (always the last) are a list, as
    typer passes them.
    """
    values: dict = {}
    for i, (name, nargs, required, _) in enumerate(arguments):
        if nargs == -1:
            if positional[i:]:
                values[name] = positional[i:]
            elif required:
                return None
            return values
        if i < len(positional):
            values[name] = positional[i]
        elif required:
            return None
    return values if len(positional) <= len(arguments) else None


def _run_command(name: str, words: list[str]) -> bool:
    from mreg.cli.grammar import COMMANDS

    spec = COMMANDS.get(name)
    if spec is None:
        return False
    parsed = _parse(spec, words)
    if parsed is None:
        return False
    values, positional = parsed
    arguments = _bind(spec["arguments"], positional)
    if arguments is None or any(option not in values for option in spec["required"]):
        return False  # typer's usage error
    module_name, function = spec["body"]
    body = getattr(__import__(module_name, fromlist=[function]), function)
    try:
        body(**values, **arguments)
    except EOFError as exc:
        # click turns end of input into an interruption (a new line, then "interrupted"): so
        # does the entry point with a KeyboardInterrupt.
        raise KeyboardInterrupt from exc
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
    if arguments and arguments[-1][1] == -1:
        position = min(position, len(arguments) - 1)  # every further word is the last argument's
    if position >= len(arguments):
        return None
    completer = arguments[position][3]
    if completer is None:
        return None
    from mreg.cli import complete

    # No click context here: the completion functions find a typed --repo on the line.
    return getattr(complete, completer)(None, incomplete)
