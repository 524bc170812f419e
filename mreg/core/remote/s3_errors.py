"""How S3's refusals read, the same through both S3 clients (s3fs in s3.py, the standard-library reader in s3_reader.py)."""

from __future__ import annotations

from mreg.errors import StorageError

REFUSED_CREDENTIALS = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
}


def answer_error(code: str | None, status: int | None, message: str, *, url: str, endpoint: str | None, bucket: str,
                 doing: str) -> StorageError:
    """The error for an S3 answer that is not a success, worded alike by both S3 clients (s3.py, s3_reader.py)."""
    where = url + (f" at {endpoint}" if endpoint else "")
    if code in REFUSED_CREDENTIALS or status == 403:
        return StorageError(
            f"S3 refused the credentials for {where} while {doing} ({code or status})",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --option key=… secret=…",
        )
    if code == "NoSuchBucket":
        return StorageError(f"no bucket {bucket!r} at {endpoint or 'S3'} ({url})")
    return StorageError(f"S3 error while {doing} in {where}: {code or status} {message}".rstrip())
