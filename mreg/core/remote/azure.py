"""A remote on Azure Blob Storage (`az://CONTAINER/PREFIX`), through azure-storage-blob (adlfs's library).

Exclusive create is the service's own condition: an upload with
`overwrite=False` sends `If-None-Match: *` on the request that makes the blob
visible (Put Blob, or Put Block List after the blocks of a large file), and
the service refuses it with 409 BlobAlreadyExists (or 412) when the blob
exists. Uncommitted blocks are never visible, so a reader never sees half a
file.

Options: `account_url` (e.g. `https://ACCOUNT.blob.core.windows.net`, or an
emulator's URL), `account_name`, `account_key`, `sas_token`,
`connection_string` (else `AZURE_STORAGE_CONNECTION_STRING`, or
`AZURE_STORAGE_ACCOUNT_NAME` / `AZURE_STORAGE_ACCOUNT_KEY`; without a key,
azure-identity's default credential), `max_concurrency`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

from mreg.core.remote.backends import check_key, check_prefix, need, take_options
from mreg.core.remote.storage import Progress
from mreg.errors import IntegrityError, MregError, NotFoundError, StorageError, UsageError

OPTIONS = ("account_url", "account_name", "account_key", "sas_token", "connection_string", "max_concurrency")
MAX_CONCURRENCY = 4  # blocks in flight (4 MiB each by default)
REFUSED = {"AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch", "InvalidAuthenticationInfo"}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:300]


class AzureStorage:
    """A remote's keys as blobs in one container under a prefix."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = url
        options = take_options(url, options, OPTIONS)
        parts = urlsplit(url)
        if parts.scheme not in ("az", "abfs") or not parts.netloc or parts.query or parts.fragment:
            raise UsageError(f"not an Azure URL: {url!r}", hint="expected az://CONTAINER/PREFIX")
        self.container_name = parts.netloc
        self.prefix = parts.path.strip("/")
        if self.prefix:
            check_key(self.prefix)
        try:
            self.concurrency = max(1, int(options.get("max_concurrency", MAX_CONCURRENCY)))
        except ValueError:
            raise UsageError(f"option max_concurrency={options['max_concurrency']!r}: expected a whole number") from None
        blob = need("azure.storage.blob", "azure")
        self._errors = need("azure.core.exceptions", "azure")
        connection = options.get("connection_string") or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        name = options.get("account_name") or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        key = options.get("account_key") or os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
        account_url = options.get("account_url") or (f"https://{name}.blob.core.windows.net" if name else None)
        self.where = account_url or "Azure"
        try:
            # Files above 8 MiB go in 4 MiB blocks, committed at the end: the
            # library's default reads up to 64 MiB into memory for one request.
            # Two retries a second or two apart, not the library's pauses of
            # 15 s and more (40 s before an unreachable endpoint is reported).
            sizes = {
                "max_single_put_size": 8 << 20,
                "max_block_size": 4 << 20,
                "retry_policy": blob.ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2),
                "connection_timeout": 10,
            }
            if connection and not options.get("account_url"):
                service = blob.BlobServiceClient.from_connection_string(connection, **sizes)
            elif account_url is None:
                raise UsageError(
                    f"no Azure account for {url}",
                    hint="give --option account_name=… (or account_url=…), or set AZURE_STORAGE_CONNECTION_STRING",
                )
            else:
                if key:
                    credential = {"account_name": name or account_url.split("//")[-1].split(".")[0], "account_key": key}
                elif options.get("sas_token"):
                    credential = options["sas_token"]
                else:
                    credential = need("azure.identity", "azure").DefaultAzureCredential()
                service = blob.BlobServiceClient(account_url, credential=credential, **sizes)
            self.where = service.url
            self._container = service.get_container_client(self.container_name)
        except MregError:
            raise
        except ValueError as exc:
            raise UsageError(f"cannot use {url}: {_one_line(exc)}") from None

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, exc: Exception, doing: str) -> MregError:
        if isinstance(exc, MregError):
            return exc
        e = self._errors
        code = getattr(exc, "error_code", None)
        status = getattr(exc, "status_code", None)
        if isinstance(exc, e.ClientAuthenticationError) or code in REFUSED or status == 403:
            return StorageError(
                f"Azure refused the credentials for {self.url} while {doing} ({code or status})",
                hint="check account_key / sas_token / AZURE_STORAGE_CONNECTION_STRING",
            )
        if code == "ContainerNotFound":
            return StorageError(f"no container {self.container_name!r} at {self.where} ({self.url})")
        if isinstance(exc, (e.ServiceRequestError, e.ServiceResponseError)):
            return StorageError(f"cannot reach {self.where} for {self.url}: {_one_line(exc)}")
        return StorageError(f"Azure failed while {doing} in {self.url}: {code or type(exc).__name__} {_one_line(exc)}")

    def _exists_error(self, exc: Exception) -> bool:
        return isinstance(exc, self._errors.ResourceExistsError) or getattr(exc, "status_code", None) in (409, 412)

    def _missing(self, exc: Exception) -> bool:
        return isinstance(exc, self._errors.ResourceNotFoundError) and getattr(exc, "error_code", None) != "ContainerNotFound"

    def create(self, key: str, data: bytes) -> bool:
        blob = self._container.get_blob_client(self._path(key))
        try:
            blob.upload_blob(data, overwrite=False)
            return True
        except Exception as exc:
            if self._exists_error(exc):
                return False
            raise self._error(exc, f"creating {key}") from None

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        blob = self._container.get_blob_client(self._path(key))
        moved = 0

        def hook(current: int, _total: int | None) -> None:
            nonlocal moved
            if progress is not None and current > moved:
                progress(current - moved)
            moved = max(moved, current)

        try:
            if self.size(key) is not None:  # saves the upload; the condition below decides
                return False
            with open(path, "rb") as f:
                blob.upload_blob(
                    f,
                    length=os.fstat(f.fileno()).st_size,
                    overwrite=False,
                    max_concurrency=self.concurrency,
                    progress_hook=hook,
                )
            return True
        except Exception as exc:
            if self._exists_error(exc):
                return False
            raise self._error(exc, f"uploading {key}") from None

    def read(self, key: str, limit: int) -> bytes | None:
        blob = self._container.get_blob_client(self._path(key))
        try:
            size = blob.get_blob_properties().size
            if size > limit:
                raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
            # Ask for no more than one byte past the limit, whatever the blob became since.
            data = blob.download_blob(offset=0, length=min(size, limit) + 1).readall() if size else b""
            if len(data) > limit:
                raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
            return data
        except Exception as exc:
            if self._missing(exc):
                return None
            raise self._error(exc, f"reading {key}") from None

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        blob = self._container.get_blob_client(self._path(key))
        moved = 0

        def hook(current: int, _total: int | None) -> None:
            nonlocal moved
            if progress is not None and current > moved:
                progress(current - moved)
            moved = max(moved, current)

        try:
            stream = blob.download_blob(max_concurrency=self.concurrency, progress_hook=hook)
            with open(path, "wb") as f:
                stream.readinto(f)
        except Exception as exc:
            if self._missing(exc):
                raise NotFoundError(f"{self.url}: no {key}") from None
            raise self._error(exc, f"downloading {key}") from None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            return int(self._container.get_blob_client(self._path(key)).get_blob_properties().size)
        except Exception as exc:
            if self._missing(exc):
                return None
            raise self._error(exc, f"reading {key}") from None

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        check_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""
        try:
            for item in self._container.list_blobs(name_starts_with=root + prefix):
                name = item.name
                if name.startswith(root):
                    yield name[len(root) :], int(item.size)
        except Exception as exc:
            raise self._error(exc, f"listing {prefix or '/'}") from None

    def delete(self, key: str) -> None:
        try:
            self._container.get_blob_client(self._path(key)).delete_blob()
        except Exception as exc:
            if not self._missing(exc):
                raise self._error(exc, f"deleting {key}") from None
