"""The index-only view of a remote: each model's index from its newest snapshot and the entries after it.

A clone, a pull and the cache `--repo URL` writes through keep every event
in the local history (so `history`, `verify` and re-applying local events
work), so they must read every entry a snapshot would let them skip. The
reads that need only the index (`list`, `show`, `search`) are answered from
this view instead: a folder of index files and no history, brought up to
date by one listing of `models/` (which gives each model's last entry and
its snapshots) and, for a model that moved, its newest sound snapshot past
what the view holds, entry n to check the snapshot's head, and the entries
after it. A model the view is current on costs no request beyond the listing.
"""

from __future__ import annotations

import os

from mreg.core import index as index_mod
from mreg.core.ops.sync import _HINT, _check_model, _read_new_entries, remote_listing
from mreg.core.remote.state import load_state, save_state
from mreg.core.repo import Repo
from mreg.errors import IntegrityError

REMOTE = "origin"


def refresh(repo: Repo, storage) -> dict:
    """Bring the view's index files up to the remote's logs; what was read: entries, snapshots, ones ignored."""
    from mreg.core import replay
    from mreg.core.remote.snapshots import newest_snapshot

    report: dict = {"entries": 0, "snapshots": 0, "ignored": []}
    logs, snapshots = remote_listing(storage)
    with repo.locked():
        state = load_state(repo.layout, REMOTE)
        for name, last in sorted(logs.items()):
            entries, count = state.get(name, [0, 0])
            if entries == last:
                continue  # current: the listing was the only request
            model = None
            if 0 < entries < last:
                try:
                    model = index_mod.load_model(repo.layout, name)
                except IntegrityError:
                    model = None  # a damaged view is rebuilt, never trusted
            if model is None or model["history"]["events"] != count:
                entries, count, model = 0, 0, index_mod.new_model(name)
            found = newest_snapshot(storage, name, snapshots.get(name, ()), entries, last, report["ignored"])
            if found is not None:
                entries, model = found
                count = model["history"]["events"]
                report["snapshots"] += 1
            new, now = _read_new_entries(storage, name, entries, model["history"]["head"], count)
            if now < last:
                raise IntegrityError(f"entry {now + 1} of {name} is missing on {storage.url} (entry {last} exists)",
                                     hint=_HINT)
            try:
                replay.apply(model, new)
            except replay.NotReplayable as exc:
                raise IntegrityError(f"the remote's events of {name} cannot be applied: {exc}", hint=_HINT) from None
            _check_model(model, _HINT)
            index_mod.save_model(repo.layout, model)
            state[name] = [now, count + len(new)]
            report["entries"] += now - entries
        for name in sorted(set(state) - set(logs)):
            try:
                os.unlink(repo.layout.index_path(name))  # a log the remote no longer lists
            except FileNotFoundError:
                pass
            del state[name]
        save_state(repo.layout, REMOTE, state)
    return report
