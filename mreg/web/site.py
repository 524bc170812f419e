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

    The result: `{"out", "pages", "written", "unchanged"}`. A page whose bytes
    are already there is not rewritten, so a second build of an unchanged
    registry writes nothing and a static host sees only the pages that changed.
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
    with translate_os_errors(f"write the site to {out}"):
        for path, render in pages(snapshot):
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
    return {"out": out, "pages": written + unchanged, "written": written, "unchanged": unchanged}


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
