"""What a local registry knows of each remote: `.mreg/remotes/NAME.json`.

Per model, the number of the remote's log entries this registry has (pushed
or pulled) and how many of its local history's events they hold: events past
that count are local and not yet pushed. It is the only thing that makes a
push with nothing to send cost nothing: a model whose history has no event
past the count is not asked about at all.

A damaged file is an IntegrityError naming it; a missing one means nothing
is known yet (every event is unpushed, every remote entry unpulled), which
the protocol recovers from: a push finds its entries already there and
adopts them.
"""

from __future__ import annotations

import json
import os
import re

from mreg.core.fsutil import read_regular_file, real_folder, translate_os_errors, write_atomic
from mreg.core.layout import Layout
from mreg.core.schema import is_count
from mreg.errors import IntegrityError, UsageError

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z", re.ASCII)
FOLDER = "remotes"


def validate_remote_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"invalid remote name {name[:60]!r}: a-z, 0-9, '.', '_' and '-', starting with a letter "
                         "or digit, at most 64 characters")
    return name


def _path(layout: Layout, remote: str) -> str:
    return os.path.join(layout.root, FOLDER, f"{validate_remote_name(remote)}.json")


def load_state(layout: Layout, remote: str) -> dict[str, list[int]]:
    """{model: [entries, events]} for `remote`; empty when nothing is known yet."""
    path = _path(layout, remote)
    try:
        real_folder(os.path.dirname(path))
        data = read_regular_file(path, f"the state of remote {remote}")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        document = None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(is_count(n) for n in v) for v in models.values()):
        raise IntegrityError(f"the state of remote {remote} is damaged ({path})",
                             hint="remove it: the next pull and push find their place again")
    return models


def save_state(layout: Layout, remote: str, models: dict[str, list[int]]) -> None:
    path = _path(layout, remote)
    with translate_os_errors(f"record the state of remote {remote}"):
        real_folder(os.path.dirname(path), create=True)
        write_atomic(path, (json.dumps({"models": models}, indent=1, sort_keys=True) + "\n").encode())


def forget(layout: Layout, remote: str) -> None:
    path = _path(layout, remote)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
