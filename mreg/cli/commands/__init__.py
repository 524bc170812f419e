"""One module per group of commands, as `mreg --help` lists them: their declarations.

A declaration is a function whose signature is the command's parameters
(typer's `Annotated` options and arguments) and whose docstring is its
`--help`; it does nothing itself. What the command does is its body: a
typer-free function in the module of the same name under mreg/cli/bodies/,
taking the same parameters with the same defaults. The typer app calls the
body through the declaration; the fast path (mreg/cli/fast.py) calls it
directly, found through the generated grammar, without importing typer.

A module declares its commands with `command` and never imports the app:
mreg/cli/app.py attaches them (`declared`), module by module, in the order
they are written.
"""

from __future__ import annotations

import functools

_DECLARED = "__mreg_command__"


def command(body, name: str | None = None, **settings):
    """Mark a function as the declaration of a command run by `body`: typer's `app.command(name, **settings)`."""

    def declare(declaration):
        setattr(declaration, _DECLARED, (name, settings, body))
        return declaration

    return declare


def declared(module) -> list:
    """(function typer calls, name, settings) for each command the module declares, in the order written."""
    found = []
    for value in vars(module).values():
        if callable(value) and hasattr(value, _DECLARED) and value.__module__ == module.__name__:
            name, settings, body = getattr(value, _DECLARED)
            found.append((calling(value, body), name, settings))
    return found


def body_of(declaration):
    """The body a declaration's command runs."""
    return getattr(declaration, _DECLARED)[2]


def calling(declaration, body):
    """A function with the declaration's signature, name and help that runs the body.

    typer reads the parameters from the declaration (inspect and
    typing.get_type_hints follow `__wrapped__`) and passes them by name.
    """

    @functools.wraps(declaration)
    def run(**values):
        return body(**values)

    return run
