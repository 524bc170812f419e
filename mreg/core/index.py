"""The index: one JSON document per model, `models/NAME/_index.json`.

It holds the model's versions (every field of the version documents), the
versions that have been in the release stage in order (for rollback), the
numbers of removed versions (never handed out again), and the count, size and
head hash of the committed history. Writing one model's file never touches
another's, so the cost of a write does not grow with the registry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from mreg.core.fsutil import open_regular_file, real_folder, real_folders, write_atomic
from mreg.core.layout import INDEX_FILE, Layout
from mreg.core.schema import GENESIS, is_count, model_fault
from mreg.errors import IntegrityError

INDEX_FORMAT = 1
_RECOVERY = "restore it from a backup; the model's _history.jsonl beside it records every change made to it"


def new_model(name: str) -> dict:
    return {
        "format": INDEX_FORMAT,
        "name": name,
        "versions": {},
        "released": [],
        "removed": [],
        "history": {"events": 0, "bytes": 0, "head": GENESIS},
    }


def load_model(layout: Layout, name: str) -> dict | None:
    """A model's index document, or None if the model was never registered."""
    read = read_index_file(layout, name)
    return None if read is None else parse_model(read[1], layout.index_path(name), name)


def read_index_file(layout: Layout, name: str) -> tuple[os.stat_result, bytes] | None:
    """(identity, bytes) of a model's index file, read from one open file; None if there is none.

    A link, folder, FIFO or device in its place, or a link where one of the
    folders above it belongs, is damage (exit 3), never a hang or an I/O error.
    """
    path = layout.index_path(name)
    try:
        real_folders(layout.root, "models", *name.split("/"))
        fd, info = open_regular_file(path, f"the index of model {name}")
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(fd, "rb") as handle:
        return info, handle.read()


def _damaged(path: str, name: str | None, detail: str = "") -> IntegrityError:
    return IntegrityError(f"the index of model {name or path} is damaged{detail} ({path})", hint=_RECOVERY)


def parse_model(data: bytes, path: str, name: str | None = None) -> dict:
    """Decode and check an index document; an IntegrityError names the file and the field at fault."""
    try:
        model = json.loads(data)
    except (ValueError, RecursionError):
        raise _damaged(path, name, ": not valid JSON") from None
    found = model.get("format") if isinstance(model, dict) else None
    if isinstance(model, dict) and (not is_count(found) or not found):
        raise _damaged(path, name, f": format: {str(found)[:40]} is not an index format")
    if isinstance(model, dict) and found > INDEX_FORMAT:
        raise IntegrityError(f"the index of model {name or path} has format {found!r}, unknown to this mreg",
                             hint="upgrade mreg: pip install -U mreg")
    if isinstance(model, dict) and name is not None and model.get("name") != name:
        raise IntegrityError(f"the index at {path} names model {str(model.get('name'))[:80]!r}", hint=_RECOVERY)
    # A hand-edited field must fail here, as an integrity error, not later as a crash.
    fault = model_fault(model, name)
    if fault:
        raise _damaged(path, name, f": {fault}")
    return model


def save_model(layout: Layout, model: dict) -> None:
    path = layout.index_path(model["name"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, (json.dumps(model, indent=1, ensure_ascii=False) + "\n").encode())


def iter_model_names(layout: Layout) -> Iterator[str]:
    """Every model with an index file, in name order."""
    root = layout.models
    try:
        real_folder(root)
    except FileNotFoundError:
        return

    def walk(directory: str, prefix: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        if prefix and any(entry.name == INDEX_FILE for entry in entries):
            yield prefix
        for entry in entries:
            if entry.name[:1] not in ("_", ".") and entry.is_dir(follow_symlinks=False):
                yield from walk(entry.path, f"{prefix}/{entry.name}" if prefix else entry.name)

    yield from walk(root, "")
