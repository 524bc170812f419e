"""`get`: materialise a version's artifact, verifying every byte on the way."""

from __future__ import annotations

import os
import shutil

from mreg.core.artifact import materialize
from mreg.core.fsutil import translate_os_errors
from mreg.core.registry import Registry
from mreg.core.store import parse_digest
from mreg.core.wording import name as spelled
from mreg.errors import IntegrityError, RefusedError, UsageError


def get(registry: Registry, ref: str, destination: str | None = None, *, force: bool = False, progress=None) -> str:
    """Write the artifact of `ref` to `destination` and return the path written.

    A file artifact written into an existing folder keeps its original file
    name, as `cp` does. An existing destination is replaced only with `force`.
    """
    if destination is not None:
        destination = os.fspath(destination)  # the Python API takes a pathlib.Path as well
    if destination is not None and not destination.strip():
        raise UsageError(f"the destination ({spelled('destination')}) is empty")
    model, version = registry.lookup(ref)
    record = model["versions"][version]
    kind = record["kind"]
    # The name the artifact had when registered, else the model's last name segment.
    filename = record.get("filename") or model["name"].rsplit("/", 1)[-1]
    target = destination or filename
    if kind == "file" and (os.path.isdir(target) or target.endswith(os.sep)):
        # `-o out/` means "into the folder out", as with cp (made if missing, see below).
        target = os.path.join(target, filename)
    parent = os.path.dirname(os.path.abspath(target))
    store_root = os.path.realpath(registry.root)
    written = os.path.realpath(target)
    if written == store_root or written.startswith(store_root + os.sep) or store_root.startswith(written + os.sep):
        raise RefusedError(f"cannot write {target}: it is the registry's own folder or holds it",
                           hint="choose a destination outside .mreg/")
    replaced = None
    if os.path.lexists(target):
        empty_dir = kind == "directory" and os.path.isdir(target) and not os.path.islink(target) and not os.listdir(target)
        if not empty_dir:
            if not force:
                raise RefusedError(f"{target} already exists", hint=f"pass {spelled('force')} to replace it")
            replaced = target
    if not os.path.isdir(parent):
        # `get m@production serving/model.safetensors` makes serving/, as a download would;
        # only once nothing can be refused any more.
        with translate_os_errors(f"create the folder {parent}"):
            try:
                os.makedirs(parent, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise RefusedError(f"cannot write {target}: a file stands where a folder of its path should be") from None
    if replaced is not None:
        # Keep the old copy until the new one is complete and verified.
        aside = f"{target}.mreg-old-{os.getpid()}"
        os.rename(target, aside)
        try:
            materialize(registry.store, record["digest"], kind, target, progress)
        except BaseException:
            os.rename(aside, target)
            raise
        if os.path.isdir(aside) and not os.path.islink(aside):
            shutil.rmtree(aside)
        else:
            os.unlink(aside)
    else:
        if os.path.isdir(target) and kind == "directory":
            os.rmdir(target)  # an empty folder: replaced by the artifact in one rename
        materialize(registry.store, record["digest"], kind, target, progress)
    return target


def object_path(registry: Registry, ref: str) -> str:
    """The stored, read-only file of a single-file artifact (checked to exist)."""
    model, version = registry.lookup(ref)
    record = model["versions"][version]
    if record["kind"] != "file":
        raise UsageError(f"{model['name']}@{version} is a directory artifact; {spelled('path')} works for single files",
                         hint="use `mreg get REF -o DEST` to materialise it")
    path = registry.store.path(parse_digest(record["digest"]))
    if not os.path.isfile(path):
        raise IntegrityError(f"object {record['digest']} of {model['name']}@{version} is missing from the store")
    return path
