"""`get`: materialise a version's artifact, verifying every byte on the way."""

from __future__ import annotations

import os
import shutil

from mreg.core.artifact import filename_fault, materialize
from mreg.core.fsutil import translate_os_errors
from mreg.core.repo import Repo, document
from mreg.core.store import parse_digest
from mreg.core.wording import name as spelled
from mreg.errors import IntegrityError, RefusedError, UsageError


def default_name(model: dict, version: str) -> str:
    """The name the artifact had when registered, else the model's last name segment.

    The recorded name comes from the index, so it is checked to be one plain
    name: a path there would make `get` write wherever the index says.
    """
    recorded = model["versions"][version].get("filename")
    if recorded is None or recorded == "":
        return model["name"].rsplit("/", 1)[-1]
    fault = filename_fault(recorded)
    if fault:
        raise IntegrityError(f"{model['name']}@{version}: the recorded filename {fault}",
                             hint="pass -o DEST, and run `mreg verify` to see the damage")
    return recorded


def get(registry: Repo, ref: str, destination: str | None = None, *, force: bool = False, progress=None) -> str:
    """Write the artifact of `ref` to `destination` and return the path written."""
    return get_version(registry, ref, destination, force=force, progress_for=lambda doc: progress)["path"]


def get_version(registry: Repo, ref: str, destination: str | None = None, *, force: bool = False,
                progress_for=None) -> dict:
    """Write the artifact of `ref` to `destination`; return the version's name, version, digest and the path written.

    The reference is resolved once: the document returned is the version whose
    bytes were written, whatever moves in the registry meanwhile.
    `progress_for(document)` may return a callback told the size of each
    chunk written. A file artifact written into an existing folder keeps its
    original file name, as `cp` does. An existing destination is replaced only with `force`.
    """
    if destination is not None:
        destination = os.fspath(destination)  # the Python API takes a pathlib.Path as well
    if destination is not None and not destination.strip():
        raise UsageError(f"the destination ({spelled('destination')}) is empty")
    model, version = registry.lookup(ref)
    record = model["versions"][version]
    doc = document(model["name"], record)
    kind = record["kind"]
    # The recorded name is read (and checked) only where it names the destination.
    target = destination if destination is not None else default_name(model, version)
    if kind == "file" and (os.path.isdir(target) or target.endswith(os.sep)):
        # `-o out/` means "into the folder out", as with cp (made if missing, see below).
        target = os.path.join(target, default_name(model, version))
    elif kind == "directory" and target.endswith(os.sep) and target.strip(os.sep):
        # `-o out/` names the folder out itself; renaming "out/" aside would fail.
        target = target.rstrip(os.sep)
    store_root = os.path.realpath(registry.root)
    written = os.path.realpath(target)
    if written == store_root or written.startswith(store_root + os.sep) or store_root.startswith(written + os.sep):
        raise RefusedError(f"cannot write {target}: it is the registry's own folder or holds it",
                           hint="choose a destination outside .mreg/")
    progress = progress_for(doc) if progress_for is not None else None
    try:
        _write(registry, record, kind, target, force, progress)
    except IntegrityError:
        _unless_removed_meanwhile(registry, model["name"], version, record)
        raise
    return {"name": doc["name"], "version": doc["version"], "digest": doc["digest"], "path": target}


def _unless_removed_meanwhile(registry: Repo, name: str, version: str, record: dict) -> None:
    """A missing object is no damage when its version was removed (and collected) since it was read."""
    from mreg.core import index as index_mod
    from mreg.errors import NotFoundError

    try:
        fresh = index_mod.load_model(registry.layout, name)
    except IntegrityError:
        return
    now = (fresh or {"versions": {}})["versions"].get(version)
    if not isinstance(now, dict) or now.get("digest") != record["digest"]:
        raise NotFoundError(f"{name}@{version} was removed while it was being written; nothing was written",
                            hint=f"mreg history {name}@{version} shows when, by whom and why")


def _write(registry: Repo, record: dict, kind: str, target: str, force: bool, progress) -> None:
    """Materialise into `target`, replacing what is there only with `force`, never leaving half of it."""
    parent = os.path.dirname(os.path.abspath(target))
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


def object_path(registry: Repo, ref: str) -> str:
    """The stored, read-only file of a single-file artifact (checked to be a regular file in the store)."""
    model, version = registry.lookup(ref)
    record = model["versions"][version]
    if record["kind"] != "file":
        raise UsageError(f"{model['name']}@{version} is a directory artifact; {spelled('path')} works for single files",
                         hint="use `mreg get REF -o DEST` to materialise it")
    hexdigest = parse_digest(record["digest"])
    try:
        fd, _ = registry.store.open(hexdigest)
    except IntegrityError as exc:
        raise IntegrityError(f"{model['name']}@{version}: {exc.message}", hint="run `mreg verify` to see the damage") from None
    os.close(fd)
    return registry.store.path(hexdigest)
