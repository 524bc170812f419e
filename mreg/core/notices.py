"""Warnings the core raises for the user (a broken stale lock, a skipped file).

The core does not print; it hands each warning to the current handler, which
the command line points at stderr and a notebook may replace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _to_stderr(message: str) -> None:
    from mreg.core.text import one_line  # a file name in a warning must not drive the terminal

    print(f"mreg: warning: {one_line(message)}", file=sys.stderr)


handler: Callable[[str], None] = _to_stderr


def warn(message: str) -> None:
    handler(message)
