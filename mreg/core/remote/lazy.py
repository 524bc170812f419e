"""The object store of a lazy clone: an object missing here is fetched from the remote when read.

Only reads fetch (`get`, `verify`, `diff`, a manifest): a register never
downloads what it is about to store, and listing or showing versions reads
no object at all.
"""

from __future__ import annotations

from mreg.core.store import ObjectStore


class LazyStore(ObjectStore):
    def __init__(self, layout, url: str, options: dict[str, str]) -> None:
        super().__init__(layout)
        self.url = url
        self.options = options
        self._storage = None

    def _ensure(self, hexdigest: str) -> None:
        if self.exists(hexdigest):
            return
        from mreg.core.pins import Intake
        from mreg.core.remote.backends import open_storage
        from mreg.core.remote.transfer import fetch_object

        if self._storage is None:
            self._storage = open_storage(self.url, self.options)
        with Intake(self.layout, "fetch an object from the remote") as intake:
            intake.pin(hexdigest)
            fetch_object(self._storage, self, hexdigest, intake)

    def open(self, hexdigest: str):
        self._ensure(hexdigest)
        return super().open(hexdigest)

    def fault(self, hexdigest: str, progress=None):
        from mreg.errors import IntegrityError

        try:
            self._ensure(hexdigest)
        except IntegrityError as exc:
            return exc.message, 0
        return super().fault(hexdigest, progress)
