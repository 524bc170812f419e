"""A remote on S3 or an S3-compatible server (`s3://BUCKET/PREFIX`), through s3fs.

Exclusive create is a real conditional request, `If-None-Match: *`: on
PutObject (a file up to `multipart_threshold` is streamed in one PUT), and for
a larger file on the server-side copy that publishes its multipart upload
(see `_multipart`). The server decides, atomically, so of
two writers exactly one wins. A refusal is recognised by its HTTP status or
error code (412 PreconditionFailed; 409 ConditionalRequestConflict while
another conditional write of the key is in flight), never by checking first.
Parts are invisible until published, so a reader never sees half a file under
its key.

Options (`--option K=V`): `endpoint_url` (else `AWS_ENDPOINT_URL_S3` or
`AWS_ENDPOINT_URL`), `key`, `secret`, `token`, `profile`, `region`;
`multipart_threshold`, `part_size` and `max_concurrency` tune large transfers
(a multipart upload's peak memory is about twice the product of the last two). Without `key`, credentials come from the usual AWS variables
and files.

`list`, `show` and `search --repo s3://…` read their view through
`s3_reader` instead, where it can reach the server as this backend would.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import random
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

from mreg.core.remote.backends import CHUNK, TEMPORARY, check_key, check_prefix, need, take_options
from mreg.core.remote.s3_errors import answer_error
from mreg.core.remote.storage import Leftover, Progress
from mreg.errors import IntegrityError, MregError, NotFoundError, StorageError, UsageError

OPTIONS = (
    "endpoint_url",
    "key",
    "secret",
    "token",
    "profile",
    "region",
    "multipart_threshold",
    "part_size",
    "max_concurrency",
)
# Up to this size a file goes in one conditional PUT, streamed from the disk:
# atomic on every server, and on SeaweedFS twice as fast as a multipart
# upload (measured: 300 MB in 3.8-5.2 s against 7.9 s). Above it, parts in
# parallel (S3 takes at most 5 GiB in one PUT).
MULTIPART_THRESHOLD = 1 << 30
PART_SIZE = 8 << 20
# Parts in flight. The client library holds about two copies of each, so an
# upload's peak memory is ~2 * PART_SIZE * MAX_CONCURRENCY over the process's
# own: measured 130 MB peak RSS in all with 8 MiB x 4 (195 MB with 16 MiB x 4).
MAX_CONCURRENCY = 4
MAX_PARTS = 10_000  # S3's limit on the parts of one upload
MAX_COPY = MAX_PUT = 5 << 30  # S3's limit on one CopyObject, and on one PutObject
# 409 ConditionalRequestConflict means another conditional write of the key
# is in flight; asking again gives the server's final answer.
CONFLICT_RETRIES = 5


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _size_option(options: dict[str, str], name: str, default: int, low: int) -> int:
    if name not in options:
        return default
    try:
        value = int(options[name])
    except ValueError:
        value = -1
    if value < low:
        raise UsageError(f"option {name}={options[name]!r}: expected a whole number >= {low}")
    return value


class S3Storage:
    """A remote's keys in one S3 bucket under a prefix."""

    # Every request runs on s3fs's one event loop, whichever thread asks.
    threadsafe = True

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = url
        options = take_options(url, options, OPTIONS)
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise UsageError(f"not an S3 URL: {url!r}", hint="expected s3://BUCKET/PREFIX")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.part_size = _size_option(options, "part_size", PART_SIZE, 5 << 20)
        self.multipart_threshold = _size_option(options, "multipart_threshold", MULTIPART_THRESHOLD, 5 << 20)
        if self.multipart_threshold > MAX_PUT:
            raise UsageError(f"option multipart_threshold={self.multipart_threshold}: S3 takes at most {MAX_PUT} bytes in one PUT")
        self.concurrency = _size_option(options, "max_concurrency", MAX_CONCURRENCY, 1)
        self.endpoint = (
            options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        )
        s3fs = need("s3fs", "s3")
        self._botocore = need("botocore.exceptions", "s3")
        self._sync = need("fsspec.asyn", "s3").sync
        client_kwargs = {"region_name": options["region"]} if options.get("region") else {}
        try:
            self._fs = s3fs.S3FileSystem(
                session=_session(options.get("profile")),
                key=options.get("key"),
                secret=options.get("secret"),
                token=options.get("token"),
                endpoint_url=self.endpoint,
                client_kwargs=client_kwargs,
                config_kwargs={
                    # No CRC of each request body: every object is checked
                    # against its digest and every log entry against its
                    # hash chain when read, and a checksum pass would read a
                    # streamed file twice.
                    "request_checksum_calculation": "when_required",
                    "connect_timeout": 10,
                    "read_timeout": 120,
                    "retries": {"max_attempts": 3, "mode": "standard"},
                },
                skip_instance_cache=True,
            )
        except ValueError as exc:
            raise UsageError(f"cannot use {url}: {_one_line(exc)}") from None
        self._client = None

    # --- plumbing ---------------------------------------------------------------
    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _run(self, doing: str, make_coroutine, *args):
        """Run one operation on s3fs's event loop; every library error leaves as mreg's own."""
        try:
            return self._sync(self._fs.loop, make_coroutine, *args)
        except MregError:
            raise
        except Exception as exc:  # everything a server or the network can do, mapped in one place
            raise self._error(exc, doing) from None

    async def _s3(self):
        if self._client is None:
            self._client = await self._fs.set_session()
        return self._client

    def _error(self, exc: Exception, doing: str) -> MregError:
        where = f"{self.url}" + (f" at {self.endpoint}" if self.endpoint else "")
        b = self._botocore
        if isinstance(exc, b.ClientError):
            code, status, message = _details(exc)
            return answer_error(code, status, message, url=self.url, endpoint=self.endpoint, bucket=self.bucket,
                                doing=doing)
        if isinstance(exc, b.NoCredentialsError):
            return StorageError(
                f"no S3 credentials for {self.url}",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or --option key=… secret=…",
            )
        if isinstance(exc, (b.EndpointConnectionError, b.ConnectionError, b.HTTPClientError)):
            return StorageError(f"cannot reach the S3 endpoint for {where}: {_one_line(exc)}")
        if isinstance(exc, (b.BotoCoreError, OSError, asyncio.TimeoutError)):
            return StorageError(f"S3 failed while {doing} in {where}: {_one_line(exc) or type(exc).__name__}")
        if isinstance(exc, ValueError):
            return UsageError(f"cannot use {self.url}: {_one_line(exc)}")
        return StorageError(f"S3 failed while {doing} in {where}: {type(exc).__name__}: {_one_line(exc)}")

    def _missing(self, exc: Exception) -> bool:
        if not isinstance(exc, self._botocore.ClientError):
            return False
        code, status, _ = _details(exc)
        return status == 404 and code != "NoSuchBucket" or code in ("NoSuchKey", "NotFound")

    def _refused(self, exc: Exception) -> bool | None:
        """True for 'the key exists', None for 'a conflicting write is in flight', False otherwise."""
        if not isinstance(exc, self._botocore.ClientError):
            return False
        code, status, _ = _details(exc)
        if code == "ConditionalRequestConflict" or status == 409:
            return None
        return code == "PreconditionFailed" or status == 412

    # --- exclusive create -----------------------------------------------------
    async def _conditional(self, key: str, send, data: bytes | None) -> bool:
        """Run `send()` (a request carrying If-None-Match: *) until the server gives its answer.

        True if this call wrote the key, False if the key existed. `data` is
        what was sent, if it is at hand, to recognise a request that the
        client library re-sent after losing the answer to its first copy: the
        copy is refused because the first one wrote the key.
        """
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                await send()
                return True
            except Exception as exc:
                refused = self._refused(exc)
                if refused is False:
                    raise
                if refused is None and attempt < CONFLICT_RETRIES:
                    await asyncio.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
                    continue
                if refused and data is not None and _retried(exc):
                    try:
                        return await self._read(key, len(data)) == data
                    except IntegrityError:
                        return False
                return False
        return False  # pragma: no cover - the loop always returns

    def create(self, key: str, data: bytes) -> bool:
        remote = self._path(key)

        async def run() -> bool:
            s3 = await self._s3()

            async def send() -> None:
                await s3.put_object(Bucket=self.bucket, Key=remote, Body=data, IfNoneMatch="*")

            return await self._conditional(key, send, data)

        return self._run(f"creating {key}", run)

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        remote = self._path(key)

        async def run() -> bool:
            size = os.path.getsize(path)
            s3 = await self._s3()
            if size <= self.part_size:
                with open(path, "rb") as f:
                    data = f.read()

                async def send() -> None:
                    await s3.put_object(Bucket=self.bucket, Key=remote, Body=data, IfNoneMatch="*")

                created = await self._conditional(key, send, data)
                if created and progress is not None:
                    progress(len(data))
                return created
            # Not needed for safety (the write is conditional), but a key
            # already there is the common case when pushing, and answering it
            # here saves uploading gigabytes that would be thrown away.
            if await self._size(key) is not None:
                return False
            if size > self.multipart_threshold:
                return await self._multipart(key, remote, path, size, progress)
            with _Reading(path, progress) as f:

                async def stream() -> None:
                    f.seek(0)  # from the start again if the client library re-sends
                    await s3.put_object(Bucket=self.bucket, Key=remote, Body=f, ContentLength=size, IfNoneMatch="*")

                return await self._conditional(key, stream, None)

        return self._run(f"uploading {key}", run)

    async def _multipart(self, key: str, remote: str, path: str, size: int, progress: Progress | None) -> bool:
        """Upload in parallel parts, then make the whole file appear under `remote` only if it is free.

        SeaweedFS honours If-None-Match on CompleteMultipartUpload but not
        atomically: racing completions were seen to win twice. Its conditional
        CopyObject has exactly one winner. So the parts go to a temporary key
        of their own and a conditional server-side copy publishes them. A copy
        is limited to 5 GiB by S3; larger files complete their upload under
        the key directly, conditionally (atomic on AWS).
        """
        s3 = await self._s3()
        _release_big_buffers()
        direct = size > MAX_COPY
        target = remote if direct else f"{self.prefix + '/' if self.prefix else ''}{TEMPORARY}/{secrets.token_hex(12)}"
        part_size = max(self.part_size, math.ceil(size / MAX_PARTS))
        count = math.ceil(size / part_size)
        upload = (await s3.create_multipart_upload(Bucket=self.bucket, Key=target))["UploadId"]
        etags: dict[int, str] = {}
        uploaded = False  # the upload is completed (under the key, or under the temporary key)
        try:
            with open(path, "rb") as f:

                async def send_part(number: int) -> None:
                    # The file is read only when a slot is free, so at most
                    # `concurrency` parts are in memory at once.
                    offset = (number - 1) * part_size
                    data = await asyncio.to_thread(os.pread, f.fileno(), part_size, offset)
                    if len(data) != min(part_size, size - offset):
                        raise StorageError(f"cannot upload {path}: the file changed size during the upload")
                    answer = await s3.upload_part(
                        Bucket=self.bucket, Key=target, UploadId=upload, PartNumber=number, Body=data
                    )
                    etags[number] = answer["ETag"]
                    if progress is not None:
                        progress(len(data))

                await _bounded((send_part(n) for n in range(1, count + 1)), self.concurrency)
            parts = {"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in range(1, count + 1)]}
            if direct:

                async def complete() -> None:
                    await s3.complete_multipart_upload(
                        Bucket=self.bucket, Key=target, UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
                    )

                uploaded = await self._conditional(key, complete, None)
                return uploaded
            await s3.complete_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload, MultipartUpload=parts)
            uploaded = True

            async def publish() -> None:
                await s3.copy_object(
                    Bucket=self.bucket, Key=remote, CopySource={"Bucket": self.bucket, "Key": target}, IfNoneMatch="*"
                )

            return await self._conditional(key, publish, None)
        finally:
            # Parts of an upload never completed, and the temporary copy, cost
            # storage: remove them. A kill leaves them behind, invisible to
            # readers and to listings; `gc --remote` removes them once they are
            # older than its grace period (see `leftovers`).
            try:
                if not uploaded:
                    await asyncio.shield(s3.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload))
                elif not direct:
                    await asyncio.shield(s3.delete_object(Bucket=self.bucket, Key=target))
            except Exception:
                pass

    # --- reading ----------------------------------------------------------------
    async def _read(self, key: str, limit: int) -> bytes | None:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=self._path(key))
        except Exception as exc:
            if self._missing(exc):
                return None
            raise
        body = answer["Body"]
        try:
            if answer.get("ContentLength", 0) > limit:
                raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
            chunks = []
            total = 0
            while True:
                chunk = await body.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            body.close()

    def read(self, key: str, limit: int) -> bytes | None:
        return self._run(f"reading {key}", self._read, key, limit)

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        remote = self._path(key)

        async def run() -> None:
            size = await self._size(key)
            if size is None:
                raise NotFoundError(f"{self.url}: no {key}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                # Ranges fetched in parallel, each streamed to its place in
                # the file, so memory stays at one read buffer per range.
                count = max(1, math.ceil(size / self.part_size))

                async def fetch(number: int) -> None:
                    start = number * self.part_size
                    end = min(size, start + self.part_size) - 1
                    s3 = await self._s3()
                    kwargs = {"Range": f"bytes={start}-{end}"} if size else {}
                    try:
                        answer = await s3.get_object(Bucket=self.bucket, Key=remote, **kwargs)
                    except Exception as exc:
                        if self._missing(exc):
                            raise NotFoundError(f"{self.url}: no {key}") from None
                        raise
                    body = answer["Body"]
                    offset = start
                    try:
                        while True:
                            chunk = await body.read(CHUNK)
                            if not chunk:
                                break
                            if offset + len(chunk) > end + 1:
                                raise IntegrityError(f"{self.url}: {key} changed during the download")
                            await asyncio.to_thread(os.pwrite, fd, chunk, offset)
                            offset += len(chunk)
                            if progress is not None:
                                progress(len(chunk))
                    finally:
                        body.close()
                    if offset != end + 1 and size:
                        raise IntegrityError(f"{self.url}: {key} changed during the download")

                await _bounded((fetch(n) for n in range(count)), self.concurrency)
            finally:
                os.close(fd)

        self._run(f"downloading {key}", run)

    async def _size(self, key: str) -> int | None:
        s3 = await self._s3()
        try:
            answer = await s3.head_object(Bucket=self.bucket, Key=self._path(key))
        except Exception as exc:
            if self._missing(exc):
                return None
            raise
        return int(answer["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        return self._run(f"reading {key}", self._size, key)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        check_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""

        async def page(token: str | None) -> tuple[list[tuple[str, int]], str | None]:
            s3 = await self._s3()
            kwargs = {"ContinuationToken": token} if token else {}
            answer = await s3.list_objects_v2(Bucket=self.bucket, Prefix=root + prefix, **kwargs)
            found = [
                (item["Key"][len(root) :], int(item["Size"]))
                for item in answer.get("Contents", [])
                if item["Key"].startswith(root) and not item["Key"][len(root) :].startswith(TEMPORARY)
            ]
            return found, answer.get("NextContinuationToken") if answer.get("IsTruncated") else None

        token = None
        while True:
            found, token = self._run(f"listing {prefix or '/'}", page, token)
            yield from found
            if token is None:
                return

    def delete(self, key: str) -> None:
        remote = self._path(key)

        async def run() -> None:
            s3 = await self._s3()
            try:
                await s3.delete_object(Bucket=self.bucket, Key=remote)
            except Exception as exc:
                if not self._missing(exc):
                    raise

        self._run(f"deleting {key}", run)

    # --- what killed uploads leave ------------------------------------------------
    def leftovers(self) -> Iterator[Leftover]:
        """Temporary keys under `.mreg-tmp/`, and unfinished multipart uploads to them or to `objects/`.

        An unfinished upload's time is that of its newest part (or its start,
        before any part), so an upload still sending parts is never old.
        """
        root = f"{self.prefix}/" if self.prefix else ""

        async def temporaries() -> list[Leftover]:
            s3 = await self._s3()
            found, token = [], None
            while True:
                kwargs = {"ContinuationToken": token} if token else {}
                answer = await s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{root}{TEMPORARY}/", **kwargs)
                found += [Leftover(item["Key"][len(root) :], int(item["Size"]), item["LastModified"].timestamp(),
                                   ("key", item["Key"])) for item in answer.get("Contents", [])]
                if not answer.get("IsTruncated"):
                    return found
                token = answer["NextContinuationToken"]

        async def unfinished() -> list[Leftover]:
            s3 = await self._s3()
            found, markers = [], {}
            while True:
                answer = await s3.list_multipart_uploads(Bucket=self.bucket, Prefix=root, **markers)
                for upload in answer.get("Uploads", []):
                    # Only mreg's own: to a temporary key, or (over 5 GiB) to an object's key. Another
                    # program's upload elsewhere in a shared bucket is not ours to abort.
                    if not upload["Key"].startswith((f"{root}{TEMPORARY}/", f"{root}objects/")):
                        continue
                    size, newest = 0, upload["Initiated"].timestamp()
                    part_marker = {}
                    while True:
                        parts = await s3.list_parts(Bucket=self.bucket, Key=upload["Key"],
                                                    UploadId=upload["UploadId"], **part_marker)
                        for part in parts.get("Parts", []):
                            size += int(part["Size"])
                            newest = max(newest, part["LastModified"].timestamp())
                        if not parts.get("IsTruncated"):
                            break
                        part_marker = {"PartNumberMarker": parts["NextPartNumberMarker"]}
                    found.append(Leftover(f"{upload['Key'][len(root):]} (unfinished upload)", size, newest,
                                          ("upload", upload["Key"], upload["UploadId"])))
                if not answer.get("IsTruncated"):
                    return found
                markers = {"KeyMarker": answer["NextKeyMarker"], "UploadIdMarker": answer["NextUploadIdMarker"]}

        yield from self._run("listing temporary keys", temporaries)
        yield from self._run("listing unfinished uploads", unfinished)

    def remove_leftover(self, leftover: Leftover) -> None:
        async def run() -> None:
            s3 = await self._s3()
            try:
                if leftover.handle[0] == "key":
                    await s3.delete_object(Bucket=self.bucket, Key=leftover.handle[1])
                else:
                    await s3.abort_multipart_upload(Bucket=self.bucket, Key=leftover.handle[1],
                                                    UploadId=leftover.handle[2])
            except Exception as exc:
                if not self._missing(exc) and _details(exc)[0] != "NoSuchUpload":
                    raise

        self._run(f"removing {leftover.name}", run)


def _release_big_buffers() -> None:
    """Have glibc give every freed buffer of 1 MiB or more back to the system at once.

    By default glibc raises its threshold for that to the size of the largest
    block freed so far (up to 32 MiB): after the first part, each part's
    buffer, and the copy the event loop keeps of what the socket has not
    taken yet, come from the heap of whichever thread made them and stay
    there, scattered. Measured on a 2 GiB upload in 8 MiB parts x 4: 177 MB
    peak RSS by default, 130 MB with the threshold fixed (a 5 GiB push: 193 MB, then 137 MB).
    Elsewhere than glibc this does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (AttributeError, OSError):
        pass


_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
_SESSIONS: dict[str | None, object] = {}


def _session(profile: str | None):
    """One botocore session per profile: it caches the service descriptions,
    whose loading is most of the ~0.4 s a first request costs, for every later
    storage in this process and in processes forked from it. (It holds no
    connection or event loop: each storage's client has its own.)"""
    if profile not in _SESSIONS:
        from aiobotocore.session import AioSession

        _SESSIONS[profile] = AioSession(profile=profile)
    return _SESSIONS[profile]


class _Reading(io.FileIO):
    """A file sent as a request body: read in small pieces by the HTTP client, its progress reported once per byte."""

    def __init__(self, path: str, progress: Progress | None) -> None:
        super().__init__(path, "r")
        self._progress = progress
        self._reached = 0

    def _report(self) -> None:
        end = self.tell()
        if end > self._reached and self._progress is not None:
            self._progress(end - self._reached)
        self._reached = max(self._reached, end)

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self._report()
        return data

    def readinto(self, buffer) -> int:
        count = super().readinto(buffer)
        self._report()
        return count


def _details(exc) -> tuple[str, int | None, str]:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) or {}
    status = (response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode")
    return str(error.get("Code", "")), status, _one_line(error.get("Message", ""))


def _retried(exc) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool((response.get("ResponseMetadata", {}) or {}).get("RetryAttempts"))


async def _bounded(jobs, limit: int) -> None:
    """Run the coroutines `jobs` yields, at most `limit` at once; the first failure cancels the rest."""
    running: set[asyncio.Task] = set()
    try:
        for job in jobs:
            running.add(asyncio.ensure_future(job))
            if len(running) >= limit:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
