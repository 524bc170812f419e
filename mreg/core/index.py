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

from mreg.core.fsutil import read_regular_file, real_folder, real_folders, write_atomic
from mreg.core.history import GENESIS
from mreg.core.layout import INDEX_FILE, Layout
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
    path = layout.index_path(name)
    try:
        # Never through a link or a FIFO planted in the registry (a copied registry is untrusted).
        real_folders(layout.root, "models", *name.split("/"))
        data = read_regular_file(path, f"the index of model {name}")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_model(data, path, name)


def _damaged(path: str, name: str | None, detail: str = "") -> IntegrityError:
    return IntegrityError(f"the index of model {name or path} is damaged{detail} ({path})", hint=_RECOVERY)


def parse_model(data: bytes, path: str, name: str | None = None) -> dict:
    """Decode and check an index document; an IntegrityError names what is wrong with it."""
    try:
        model = json.loads(data)
    except (ValueError, RecursionError):
        raise _damaged(path, name) from None
    if not isinstance(model, dict) or not isinstance(model.get("versions"), dict) or not isinstance(model.get("history"), dict):
        raise _damaged(path, name)
    if not isinstance(model.get("format"), int) or model["format"] > INDEX_FORMAT:
        raise IntegrityError(
            f"the index of model {name or path} has format {model.get('format')!r}, unknown to this mreg",
            hint="upgrade mreg: pip install -U mreg",
        )
    if name is not None and model.get("name") != name:
        raise IntegrityError(f"the index at {path} names model {model.get('name')!r}", hint=_RECOVERY)
    for version, record in model["versions"].items():
        # A hand-edited record must fail here, as an integrity error, not later as a crash.
        fault = _record_fault(version, record)
        if fault:
            raise _damaged(path, name, f": version {version[:40]!r} {fault}")
    return model


def _record_fault(version: str, record: object) -> str | None:
    from mreg.core.semver import is_version

    if not is_version(version):
        return "is not a version number"
    if not isinstance(record, dict):
        return "is not an object"
    if record.get("version") != version:
        return "holds a different version number"
    for key in ("stage", "digest", "created_at", "created_by"):
        if not isinstance(record.get(key), str):
            return f"has no {key}"
    if record.get("kind") not in ("file", "directory"):
        return "has no kind (file or directory)"
    for key in ("size", "files"):
        if not isinstance(record.get(key), int) or isinstance(record.get(key), bool):
            return f"has no {key}"
    return None


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
