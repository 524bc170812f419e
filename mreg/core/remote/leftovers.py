"""What killed uploads leave on a remote, removed by `gc --remote` once older than the grace period.

An upload writes under a temporary name first (`.mreg-tmp…` beside the key
on a folder or an SFTP server, under `.mreg-tmp/` on S3, where an
unfinished multipart upload holds its parts too) and only then gives the
bytes their key. A process killed in between leaves the temporary behind:
never listed, never read, but taking space. Each is removed once it has not
been written to for the grace period, and never sooner than an hour: a
younger one may belong to an upload still running, and is kept. (Objects are
protected from a short grace by the claims of running pushes; temporaries have
no claim, so `--grace 0s` must not reach them.)
"""

from __future__ import annotations

MIN_AGE = 3600.0  # seconds: an upload writes to its temporary far more often than this


def sweep_leftovers(storage, now: float, grace: float, dry_run: bool) -> dict:
    """Remove (with `dry_run`, only count) the leftovers last written at least `grace` seconds (and an hour) before `now`.

    Returns `{"count", "bytes", "young"}`: what went (or would go), and how
    many are kept as too young. A storage that never leaves any has nothing.
    """
    report = {"count": 0, "bytes": 0, "young": 0}
    if not hasattr(storage, "leftovers"):
        return report
    for leftover in list(storage.leftovers()):
        if now - leftover.time < max(grace, MIN_AGE):
            report["young"] += 1
            continue
        if not dry_run:
            storage.remove_leftover(leftover)
        report["count"] += 1
        report["bytes"] += leftover.size
    return report
