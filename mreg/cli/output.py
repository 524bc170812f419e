"""How results are shown: one JSON document, a rich table or panel at a
terminal, or plain untruncated lines when piped.

Rich is imported only here, and only when something is drawn at a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

# A value never spans lines or columns, nor drives the terminal: its controls
# are written escaped, the same way in piped lines and (see `escaped`) at a terminal.
from mreg.core.text import one_line

PROGRESS_MIN_BYTES = 64 << 20


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(document: object) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (read from a hostile file): as JSON's \uXXXX escape
        text = json.dumps(document, indent=2)
    sys.stdout.write(text + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _beyond_floats(number: int) -> str:
    # An integer past a float's range (a hostile registry's, or a crafted header's): its order of magnitude.
    return f"about 10^{int(abs(number).bit_length() * 0.30103)}"


def number(value: object, *, terminal: bool) -> str:
    """A metric or other number as text: exact when piped, rounded the same way everywhere at a terminal.

    Piped, a float is its repr, the shortest text that reads back as the same
    float (0.9736842105263158), as in --json. At a terminal, 6 significant
    digits (0.973684), and whole units from a million up rather than an
    exponent (123456789, not 1.23457e+08). Anything else is str().
    """
    if not isinstance(value, float) or isinstance(value, bool):
        return str(value)
    if not terminal or value != value or value in (float("inf"), float("-inf")):
        return repr(value)
    if abs(value) >= 1e6:
        return f"{value:.0f}"
    return f"{value:.6g}"


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    if not _is_number(size):  # a registry from elsewhere can hold anything: shown, never a crash
        return str(size)
    try:
        value = float(size)
    except OverflowError:
        return f"{_beyond_floats(size)} B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def human_count(count: int | None) -> str:
    if count is None:
        return ""
    if not _is_number(count):
        return str(count)
    try:
        float(count)
    except OverflowError:
        return _beyond_floats(count)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= limit:
            return f"{count / limit:.1f}{suffix}"
    return str(count)


def ago(iso: str | None) -> str:
    """'3 hours ago' at a terminal; the ISO time itself when piped."""
    if not iso:
        return ""
    if not stdout_is_terminal():
        return iso
    from mreg.core.timeparse import parse_time, utc_now

    seconds = (utc_now() - parse_time(iso)).total_seconds()
    if seconds < 0:
        return iso
    return _ago_words(seconds)


def _ago_words(seconds: float) -> str:
    steps = ((60, 1, "second"), (3600, 60, "minute"), (86400, 3600, "hour"), (86400 * 30, 86400, "day"),
             (86400 * 365, 86400 * 30, "month"))
    for limit, size, unit in steps:
        if seconds < limit:
            value = int(seconds // size)
            break
    else:
        value, unit = int(seconds // (86400 * 365)), "year"
    if unit == "second" and value < 10:
        return "just now"
    return f"{value} {unit}{'' if value == 1 else 's'} ago"


STAGE_STYLES = {
    "development": "cyan",
    "testing": "blue",
    "staging": "yellow",
    "production": "bold green",
    "deprecated": "magenta",
    "archived": "dim",
}


def styled_stage(stage: str) -> str:
    style = STAGE_STYLES.get(stage, "")
    return f"[{style}]{stage}[/]" if style else stage


# How each kind of column behaves at a terminal when the table is wider than
# the screen. Names and versions are never cut (they wrap); free text wraps at
# words (the others give way to them first); identifiers such as a user or a digest are shortened with "…" (the
# whole value is always there when piped, or with --json).
_KEEP = {"NAME", "MODEL", "VERSION", "LATEST", "PRODUCTION"}
_WRAP = {"REASON", "DESCRIPTION"}
_SHORTEN = {"USER", "BY", "DIGEST", "PATH"}
_MAX_WIDTH = {"USER": 20, "BY": 20}
_STAGE_COLUMNS = {"STAGE", "FROM", "TO"}
ACTION_STYLES = {
    "register": "cyan",
    "promote": "green",
    "transition": "blue",
    "rollback": "yellow",
    "supersede": "magenta",
    "update": "",
    "rm": "red",
    "gc": "red",
    "approve": "green",
    "reject": "red",
    "void": "yellow",
    "override": "bold red",
}


def short_digest(digest: str) -> str:
    """`sha256:` and the first 12 hex digits, as git shows abbreviated hashes (terminal only)."""
    prefix, _, hexdigest = digest.partition(":")
    return f"{prefix}:{hexdigest[:12]}…" if len(hexdigest) > 12 else digest


def short_user(user: str) -> str:
    """An e-mail address without its domain, as a terminal has little room (never when piped)."""
    local, at, domain = user.partition("@")
    return local if at and local and "." in domain else user


def escaped(text: str) -> str:
    """Text for rich markup at a terminal: controls escaped as when piped, and rich's own `[`."""
    from rich.markup import escape

    return escape(one_line(text))


def table(columns: Sequence[str], rows: Sequence[Sequence[object]], *, styles: dict[int, Callable[[str], str]] | None = None,
          markup: set[int] | None = None) -> None:
    """A rich table at a terminal; tab-separated lines, no header, when piped.

    `styles` maps a column to a function styling its (escaped) text; cells in
    the `markup` columns are rich markup already (terminal only).
    """
    if not stdout_is_terminal():
        out = sys.stdout
        for row in rows:
            out.write("\t".join("" if cell is None else one_line(str(cell)) for cell in row) + "\n")
        return
    from rich.table import Table

    grid = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        if column in _SHORTEN:
            # Wrapable, so these give way first; one long word, so "…" rather than a wrap.
            grid.add_column(column, overflow="ellipsis", max_width=_MAX_WIDTH.get(column))
        elif column in _WRAP:
            grid.add_column(column, overflow="fold")
        elif column in _KEEP:
            grid.add_column(column, no_wrap=True, overflow="fold")
        else:
            grid.add_column(column, no_wrap=True, overflow="ellipsis")
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            raw = "" if cell is None else str(cell)
            column = columns[i] if i < len(columns) else ""
            if column == "DIGEST" and raw.startswith("sha256:"):
                raw = short_digest(raw)
            elif column in ("USER", "BY"):
                raw = short_user(raw)
            text = raw if markup and i in markup else escaped(raw)
            if styles and i in styles:
                text = styles[i](text)
            elif column in _STAGE_COLUMNS and not (markup and i in markup):
                text = styled_stage(text)
            elif column == "ACTION" and ACTION_STYLES.get(raw):
                text = f"[{ACTION_STYLES[raw]}]{text}[/]"
            cells.append(text)
        grid.add_row(*cells)
    console().print(grid)


def key_values(title: str, pairs: Sequence[tuple[str, object]], *, subtitle: str = "") -> None:
    """A panel at a terminal; `key: value` lines when piped."""
    if not stdout_is_terminal():
        for key, value in pairs:
            sys.stdout.write(f"{one_line(key)}: {'' if value is None else one_line(str(value))}\n")
        return
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in pairs:
        text = escaped("" if value is None else str(value))
        grid.add_row(escaped(key), styled_stage(text) if key == "stage" else text)
    console().print(Panel(grid, title=escaped(title), subtitle=subtitle or None, expand=False))


def message(text: str) -> None:
    """A human message on stderr (data goes to stdout)."""
    print(text, file=sys.stderr)


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for large work at a terminal; otherwise no callback."""
    if total < PROGRESS_MIN_BYTES or not sys.stderr.isatty() or os.environ.get("MREG_NO_PROGRESS"):
        yield None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(escaped(label), total=total)  # the label names a file: rich markup and controls escaped
        yield lambda n: bar.advance(task, n)
