"""What a bash TAB is asked to complete, read from the line itself rather than from COMP_WORDS.

bash splits COMP_WORDS at every character of COMP_WORDBREAKS, and its
default holds `@`, `=` and `:`: `mreg get iris@1.` arrives as the words
`iris`, `@`, `1.`, and `--repo=PATH` as `--repo`, `=`, `PATH`. The script
in completions/mreg.bash therefore hands over the line up to the cursor
(COMP_LINE) and COMP_WORDBREAKS; the words are split here at blanks only,
as the command will see them. readline still replaces only the text after
the last word-break character, so each candidate is printed without the
part of the word that stays on the line (`@1.0.1` for `iris@1.`, not
`iris@1.0.1`, which would give `iris@iris@1.0.1`).

Typer-free: the fast path reads the line with this, and so does the typer
completion class (mreg/cli/app.py) that answers whatever the fast path leaves.
"""

from __future__ import annotations

import os

_QUOTES = "\"'\\"
# readline's rl_special_prefixes in bash: word breaks that begin the word
# replaced rather than end the one before (`$HOME`, `@host`), so the `@`
# itself is replaced along with what follows it.
_SPECIAL_PREFIXES = "$@"


def line() -> str:
    """The command line up to the cursor.

    A script from before COMP_LINE was handed over passes only COMP_WORDS
    and COMP_CWORD: those words (up to the cursor's) joined by blanks.
    """
    if "COMP_LINE" in os.environ:
        return os.environ["COMP_LINE"]
    words = os.environ.get("COMP_WORDS", "").split()
    try:
        cword = int(os.environ.get("COMP_CWORD", ""))
    except ValueError:
        return ""
    return " ".join(words[: cword + 1]) + (" " if cword >= len(words) else "")


def split(text: str, splitter=str.split) -> tuple[list[str], str]:
    """(the words before the one under the cursor, without the program's name; that word).

    `splitter` turns text into words: blanks by default, click's shell-like
    splitting for the typer path (which also reads quotes).
    """
    words = splitter(text)
    incomplete = words.pop() if words and text and not text[-1].isspace() else ""
    return words[1:], incomplete


def kept(text: str) -> str:
    """The start of the word under the cursor that readline leaves on the line.

    Everything up to and including the word's last COMP_WORDBREAKS
    character (up to and without it for `@` and `$`); "" when no word-break set was handed over, or when the word
    holds quotes or backslashes (readline reads those differently, and
    candidates are then printed whole).
    """
    breaks = "".join(c for c in os.environ.get("COMP_WORDBREAKS", "") if not c.isspace())
    if not breaks or not text or text[-1].isspace():
        return ""
    word = text.split()[-1]
    if any(q in word for q in _QUOTES):
        return ""
    at = max(word.rfind(c) for c in breaks)
    if at >= 0 and word[at] in _SPECIAL_PREFIXES:
        return word[:at]
    return word[: at + 1]


def relative(candidates: list[str], text: str) -> list[str]:
    """The candidates as readline will insert them: without the part `kept` leaves in place."""
    prefix = kept(text)
    return [c[len(prefix):] for c in candidates if c.startswith(prefix)]
