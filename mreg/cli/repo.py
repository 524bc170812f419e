"""`--repo PATH`: which registry a command line works on, read here and nowhere else.

A `--repo` after the command wins; else one before it (`mreg --repo PATH
COMMAND …`, as git's -C); else $MREG_REPO; else the nearest `.mreg/` upward
(the last two are the core's: mreg/core/layout.py). Typer-free: the entry
point, the fast path, the typer app and completion all read it through here.
"""

from __future__ import annotations

import os

_FLAG = "--repo"
# The PATH of a `--repo` given before the command; None when there was none.
_leading: str | None = None


def at(words: list[str], i: int) -> tuple[str | None, int] | None:
    """(the PATH, the index of the word after it) if a `--repo` stands at words[i], else None.

    The PATH is None when the line ends before it (`mreg --repo` and a TAB).
    """
    word = words[i]
    if word == _FLAG:
        return (words[i + 1], i + 2) if i + 1 < len(words) else (None, i + 2)
    if word.startswith(_FLAG + "="):
        return word[len(_FLAG) + 1:], i + 1
    return None


def leading(words: list[str]) -> tuple[str | None, list[str]]:
    """The PATH of a `--repo` that starts the line, and the words after it.

    (None, words) when the line does not start with a `--repo` and its value.
    """
    found = at(words, 0) if words else None
    if found is None or found[0] is None:
        return None, words
    return found[0], words[found[1]:]


def take_leading(words: list[str]) -> list[str]:
    """Remember the `--repo` that starts the line for this process; the words after it."""
    path, rest = leading(words)
    use_leading(path)
    return rest


def use_leading(path: str | None) -> None:
    global _leading
    _leading = path


def on_line(words: list[str]) -> str | None:
    """The first `--repo` PATH anywhere on a (partly typed) line."""
    for i in range(len(words)):
        found = at(words, i)
        if found is not None and found[0] is not None:
            return found[0]
    return None


def chosen(repo: str | None) -> str | None:
    """The registry to open: a command's own `--repo`, else the leading one, else $MREG_REPO (None: search upward)."""
    if repo:
        return repo
    if _leading is not None:
        return _leading or None
    return os.environ.get("MREG_REPO") or None
