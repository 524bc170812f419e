"""`build_site`: the static site written to a folder, rewriting only the pages that changed."""

from __future__ import annotations

import contextlib
import os

from mreg.core.fsutil import translate_os_errors
from mreg.errors import UsageError
from mreg.web.pages import pages
from mreg.web.reading import Snapshot


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def build_site(registry, out: str, names: list[str] | None = None) -> dict:
    """Write the registry's pages (or those of the models `names`) under `out`; return what was done.

    The result: `{"out", "pages", "written", "unchanged", "removed"}`. A page
    whose bytes are already there is not rewritten, so a second build of an
    unchanged registry writes nothing and a static host sees only the pages that
    changed. The pages an earlier build wrote and this one no longer makes (a
    removed version's) are removed; nothing else in `out` is touched.
    """
    out = os.path.abspath(out)
    if _inside(out, registry.root) or _inside(registry.root, out):
        raise UsageError(f"the site cannot be written to {out}: it would mix with the registry at {registry.root}",
                         hint="choose a folder outside .mreg/, e.g. mreg site -o site/")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"{out} exists and is not a folder")
    snapshot = Snapshot(registry, names)
    written = unchanged = 0
    made: set[str] = set()
    produced: list[str] = []
    with translate_os_errors(f"write the site to {out}"):
        for path, render in pages(snapshot):
            produced.append(path)
            data = render()
            target = os.path.join(out, *path.split("/"))
            folder = os.path.dirname(target)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            try:
                with open(target, "rb") as handle:
                    if handle.read() == data:
                        unchanged += 1
                        continue
            except FileNotFoundError:
                pass
            _replace(target, data)
            written += 1
        removed = _remove_stale(out, _recorded(out), set(produced))
        record = "".join(f"{path}\n" for path in sorted(produced)).encode()
        if _recorded_bytes(out) != record:
            _replace(os.path.join(out, RECORD), record)
    return {"out": out, "pages": written + unchanged, "written": written, "unchanged": unchanged,
            "removed": removed}


# The files the last build wrote, one path a line: the next build removes those it no longer
# makes (the page of a removed version), and nothing else in the folder.
RECORD = ".mreg-site"


def _recorded_bytes(out: str) -> bytes | None:
    try:
        with open(os.path.join(out, RECORD), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _recorded(out: str) -> list[str]:
    data = _recorded_bytes(out)
    if data is None:
        return []
    paths = []
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split("/")
        # Only paths a build could have written: relative, plain segments (the record is a file
        # anyone could edit; it must never lead a removal outside the site).
        if line and not line.startswith("/") and "\\" not in line and all(p not in ("", ".", "..") for p in parts):
            paths.append(line)
    return paths


def _remove_stale(out: str, recorded: list[str], produced: set[str]) -> int:
    removed = 0
    for path in recorded:
        if path in produced:
            continue
        target = os.path.join(out, *path.split("/"))
        if os.path.islink(target) or not os.path.isfile(target):
            continue
        if not _inside(target, out):
            continue
        os.unlink(target)
        removed += 1
        folder = os.path.dirname(target)
        while folder != out and _inside(folder, out):
            try:
                os.rmdir(folder)  # only when empty
            except OSError:
                break
            folder = os.path.dirname(folder)
    return removed


def _replace(path: str, data: bytes) -> None:
    """Replace `path` whole (a reader or a static host never sees half a page); no fsync: a site is
    derived data, written again by the next build, and a thousand fsyncs would cost seconds."""
    temp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
