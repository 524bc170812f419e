"""One module per group of commands, as `mreg --help` lists them.

A module declares its commands with `command` and never imports the app:
mreg/cli/app.py attaches them (`declared`), module by module, in the order
they are written.
"""

from __future__ import annotations

_DECLARED = "__mreg_command__"


def command(name: str | None = None, **settings):
    """Mark a function as a command: typer's `app.command(name, **settings)`, applied by the app."""

    def declare(function):
        setattr(function, _DECLARED, (name, settings))
        return function

    return declare


def declared(module) -> list:
    """(function, name, settings) for each command the module declares, in the order written."""
    return [(value, *getattr(value, _DECLARED)) for value in vars(module).values()
            if callable(value) and hasattr(value, _DECLARED) and value.__module__ == module.__name__]
