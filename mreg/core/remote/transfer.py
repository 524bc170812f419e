"""Moving objects between the local store and a remote, every byte checked on the way in.

An object fetched from a remote lands in a temporary file of an intake (so a
local gc keeps away from it), is re-hashed, and enters the store only if its
bytes match its name; otherwise it is an IntegrityError (exit 3) and the
temporary file is removed. Uploads go through the storage's exclusive
create, so an object already on the remote is never overwritten.
"""

from __future__ import annotations

import os

from mreg.core.copying import hash_fd
from mreg.core.pins import Intake
from mreg.core.remote.format import object_key
from mreg.core.remote.storage import Progress, Storage
from mreg.errors import IntegrityError, NotFoundError


def fetch_object(storage: Storage, store, hexdigest: str, intake: Intake, progress: Progress | None = None) -> int:
    """Download one object into the local store, verified; return its size."""
    temp = intake.temp_path()
    try:
        try:
            storage.get_file(object_key(hexdigest), temp, progress)
        except NotFoundError:
            raise IntegrityError(f"object {hexdigest[:12]} is missing on remote {storage.url}",
                                 hint="run `mreg verify --remote NAME` to see what else is damaged") from None
        fd = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            actual, size = hash_fd(fd)
        finally:
            os.close(fd)
        if actual != hexdigest:
            raise IntegrityError(f"object {hexdigest[:12]} on remote {storage.url} is corrupt "
                                 "(its bytes do not match its name); nothing was stored")
        store.install(hexdigest, temp, intake)
        return size
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def upload_object(storage: Storage, store, hexdigest: str, progress: Progress | None = None) -> int:
    """Send one local object unless the remote has it; return the bytes sent (0 if it was there)."""
    key = object_key(hexdigest)
    if storage.exists(key):
        return 0
    fd, info = store.open(hexdigest)  # a regular file of the store, never through a link
    os.close(fd)
    storage.put_file(key, store.path(hexdigest), progress)
    return info.st_size


def version_objects(store, record: dict) -> list[str]:
    """Every object a version record names (the manifest and its files, or the file), read from `store`."""
    from mreg.core.artifact import referenced_objects

    return referenced_objects(store, record["digest"], record["kind"])
