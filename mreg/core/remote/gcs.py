"""A remote on Google Cloud Storage (`gs://BUCKET/PREFIX`), through gcsfs.

Exclusive create is the service's own precondition: gcsfs's `mode="create"`
sends `ifGenerationMatch=0` on the upload (a single multipart request below
5 MiB; above, on the resumable upload, evaluated when it is finalised), and the
service answers 412 when the object exists, which gcsfs raises as
FileExistsError from the status code. A resumable upload is invisible until
finalised, so a reader never sees half a file.

Options: `project`, `token` (a service account JSON file, `google_default`,
`cloud` or `anon`; default: gcsfs's own search), `endpoint_url` (else
`STORAGE_EMULATOR_HOST`), `chunk_size` (bytes per request of an upload, a
multiple of 256 KiB: the upload's memory).

The client is gcsfs's plain `GCSFileSystem` (gcsfs.core), not the class
current gcsfs names `gcsfs.GCSFileSystem` by default: that one first asks the
Storage Control API over gRPC what kind of bucket it is (zonal, hierarchical),
for features mreg does not use. Where that API does not answer (an emulator, a
proxy) each process waited 60 s for it; where it refuses (a credential without
the permission) it asks again on every operation, logging a warning each
time. Objects in zonal (Rapid) buckets are written over gRPC only: such a
bucket is not supported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

from mreg.core.remote.backends import TEMPORARY, check_key, check_prefix, need, take_options
from mreg.core.remote.storage import Progress
from mreg.errors import IntegrityError, MregError, NotFoundError, StorageError, UsageError

OPTIONS = ("project", "token", "endpoint_url", "chunk_size")
CHUNK_SIZE = 8 << 20

# gcsfs logs a request it gives up on with logger.exception; with no handler
# configured, Python's last-resort handler would print that traceback on
# stderr above mreg's one-line error. A program that configures logging still
# gets the records.
logging.getLogger("gcsfs").addHandler(logging.NullHandler())


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:300]


class GcsStorage:
    """A remote's keys as objects in one bucket under a prefix."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = url
        options = take_options(url, options, OPTIONS)
        parts = urlsplit(url)
        if parts.scheme not in ("gs", "gcs") or not parts.netloc or parts.query or parts.fragment:
            raise UsageError(f"not a GCS URL: {url!r}", hint="expected gs://BUCKET/PREFIX")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if self.prefix:
            check_key(self.prefix)
        try:
            self.chunk_size = int(options.get("chunk_size", CHUNK_SIZE))
        except ValueError:
            self.chunk_size = -1
        if self.chunk_size <= 0 or self.chunk_size % (256 << 10):
            raise UsageError(f"option chunk_size={options['chunk_size']!r}: expected a multiple of 262144")
        gcsfs = need("gcsfs.core", "gcs")
        self._sync = need("fsspec.asyn", "gcs").sync
        self._callbacks = need("fsspec.callbacks", "gcs")
        kwargs = {key: options[key] for key in ("project", "token", "endpoint_url") if options.get(key)}
        try:
            # No listings cache: another writer may add a key at any moment.
            self._fs = gcsfs.GCSFileSystem(skip_instance_cache=True, use_listings_cache=False, **kwargs)
        except (ValueError, OSError) as exc:
            raise UsageError(f"cannot use {url}: {_one_line(exc)}") from None

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self.bucket}/{self.prefix}/{key}" if self.prefix else f"{self.bucket}/{key}"

    def _run(self, doing: str, make_coroutine, *args):
        try:
            return self._sync(self._fs.loop, make_coroutine, *args)
        except MregError:
            raise
        except Exception as exc:  # every library and network error, mapped in one place
            raise self._error(exc, doing) from None

    def _error(self, exc: Exception, doing: str) -> MregError:
        code = getattr(exc, "code", None)
        if type(exc) is OSError and str(exc).startswith("Forbidden"):
            code = 403  # gcsfs raises a 403 as a plain OSError("Forbidden: …"), without the status
        if code in (401, 403) or isinstance(exc, PermissionError):
            return StorageError(
                f"GCS refused the credentials for {self.url} while {doing} ({code or 'permission denied'})",
                hint="check --option token=… or GOOGLE_APPLICATION_CREDENTIALS",
            )
        if isinstance(exc, FileNotFoundError):
            return StorageError(f"no bucket {self.bucket!r} for {self.url} (while {doing})")
        if isinstance(exc, (OSError, asyncio.TimeoutError)) and code is None:
            return StorageError(f"cannot reach GCS for {self.url} while {doing}: {_one_line(exc) or type(exc).__name__}")
        return StorageError(f"GCS failed while {doing} in {self.url}: {type(exc).__name__} {_one_line(exc)}")

    def _progress(self, progress: Progress | None):
        base = self._callbacks.Callback

        class Report(base):
            reported = 0

            def call(self, *args, **kwargs) -> None:
                if progress is not None and self.value > self.reported:
                    progress(self.value - self.reported)
                self.reported = max(self.reported, self.value)

        return Report()

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)

        async def run() -> bool:
            try:
                await self._fs._pipe_file(path, data, mode="create")
                return True
            except FileExistsError:  # 412: ifGenerationMatch=0 refused
                return False

        return self._run(f"creating {key}", run)

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        remote = self._path(key)

        async def run() -> bool:
            if await self._size(key) is not None:  # saves the upload; the precondition decides
                return False
            try:
                await self._fs._put_file(
                    path, remote, mode="create", chunksize=self.chunk_size, callback=self._progress(progress)
                )
                return True
            except FileExistsError:
                return False

        return self._run(f"uploading {key}", run)

    async def _size(self, key: str) -> int | None:
        try:
            info = await self._fs._info(self._path(key))
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def read(self, key: str, limit: int) -> bytes | None:
        path = self._path(key)

        async def run() -> bytes | None:
            size = await self._size(key)
            if size is None:
                return None
            if size > limit:
                raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
            try:
                data = await self._fs._cat_file(path, start=0, end=limit + 1) if size else b""
            except FileNotFoundError:
                return None
            if len(data) > limit:
                raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
            return data

        return self._run(f"reading {key}", run)

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        remote = self._path(key)

        async def run() -> None:
            if await self._size(key) is None:
                raise NotFoundError(f"{self.url}: no {key}")
            await self._fs._get_file(remote, path, callback=self._progress(progress))

        self._run(f"downloading {key}", run)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        return self._run(f"reading {key}", self._size, key)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        check_prefix(prefix)
        root = f"{self.bucket}/{self.prefix}/" if self.prefix else f"{self.bucket}/"

        async def run() -> list[tuple[str, int]]:
            # An empty prefix lists as nothing; only a missing bucket is a
            # FileNotFoundError, which must not pass for an empty remote.
            found = await self._fs._find(root + prefix, detail=True)
            return sorted(
                (name[len(root) :], int(info.get("size", 0)))
                for name, info in found.items()
                if name.startswith(root) and info.get("type") == "file" and not name[len(root) :].startswith(TEMPORARY)
            )

        yield from self._run(f"listing {prefix or '/'}", run)

    def delete(self, key: str) -> None:
        path = self._path(key)

        async def run() -> None:
            try:
                await self._fs._rm_file(path)
            except FileNotFoundError:
                pass

        self._run(f"deleting {key}", run)
