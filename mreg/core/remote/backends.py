"""Opening a remote's storage from its URL, and what the backends share.

The scheme picks the backend (`open_storage`). Each backend module is
imported only here, and only for its own scheme, so a missing extra (s3fs,
paramiko, gcsfs, adlfs) costs nothing until a remote of that kind is used, and
is then a usage error naming the pip command.

Keys are built by the remote protocol, partly from names read on the remote;
every backend checks them here (`check_key`) before they reach a server, so
that no key can climb out of the remote's root (`..`) or address something odd
(an empty segment, a backslash, a control character).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mreg.core.remote.storage import Storage, logged
from mreg.errors import IntegrityError, UsageError

# scheme: (module, class, extra)
_BACKENDS = {
    "s3": ("mreg.core.remote.s3", "S3Storage", "s3"),
    "sftp": ("mreg.core.remote.sftp", "SftpStorage", "sftp"),
    "gs": ("mreg.core.remote.gcs", "GcsStorage", "gcs"),
    "gcs": ("mreg.core.remote.gcs", "GcsStorage", "gcs"),
    "az": ("mreg.core.remote.azure", "AzureStorage", "azure"),
    "abfs": ("mreg.core.remote.azure", "AzureStorage", "azure"),
}


def scheme_of(url: str) -> str | None:
    """The URL's scheme (`s3`, `sftp`…), or None for a plain path; `file` for file://."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep and head.isalnum() else None


def is_remote_url(value: str) -> bool:
    """Whether `value` is written as a URL (`s3://…`, `file://…`) rather than a path."""
    return scheme_of(value) is not None


def open_storage(url: str, options: dict[str, str] | None = None) -> Storage:
    """The storage behind `url` (a path, file://, s3://, sftp://, gs://, az://) with backend `options`."""
    options = dict(options or {})
    scheme = scheme_of(url)
    if scheme in (None, "file"):
        from mreg.core.remote.folder import FolderStorage

        return logged(FolderStorage(url, options))
    if scheme not in _BACKENDS:
        known = ", ".join(sorted({"file", *_BACKENDS}))
        raise UsageError(f"unknown remote URL scheme {scheme!r} in {url}", hint=f"known schemes: {known}, or a path")
    module_name, class_name, extra = _BACKENDS[scheme]
    try:
        # A backend may import its library when it is built, not when it is imported.
        storage = getattr(importlib.import_module(module_name), class_name)(url, options)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "a package"
        raise UsageError(f"{scheme}:// remotes need {missing}, which is not installed",
                         hint=f"pip install 'mreg[{extra}]'") from None
    return logged(storage)


def open_reader(url: str, options: dict[str, str] | None = None) -> Storage:
    """Storage to list and read small keys at `url`: for S3, a standard-library reader where it can
    stand in for s3fs (mreg/core/remote/s3_reader.py); otherwise the backend `open_storage` gives."""
    if scheme_of(url) == "s3":
        from mreg.core.remote.s3_reader import open_reader as open_s3_reader

        reader = open_s3_reader(url, dict(options or {}))
        if reader is not None:
            return logged(reader)
    return open_storage(url, options)


CHUNK = 1 << 20  # bytes moved per read when streaming
# Uploads in progress live under names that start with this; they are never
# listed and no key may use it.
TEMPORARY = ".mreg-tmp"


def check_key(key: str) -> str:
    """`key` if it is a plain relative `/`-separated path (and not an upload in progress); IntegrityError otherwise."""
    parts = key.split("/")
    if (
        not key
        or any(part in ("", ".", "..") or part.startswith(TEMPORARY) for part in parts)
        or "\\" in key
        or any(ord(c) < 32 or c == "\x7f" for c in key)
    ):
        raise IntegrityError(f"refusing the remote key {key!r}: not a plain relative path")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty (everything) or a checked key ending in `/`."""
    if prefix == "":
        return prefix
    if not prefix.endswith("/"):
        raise IntegrityError(f"refusing the remote prefix {prefix!r}: it must end in '/'")
    check_key(prefix[:-1])
    return prefix


def take_options(url: str, options: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """The options as given, after refusing (exit 2) any this backend does not know."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for {url}",
            hint="options here: " + ", ".join(known),
        )
    return dict(options)


def need(module: str, extra: str) -> ModuleType:
    """Import an optional backend library, or say which extra installs it (exit 2)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"this remote needs the {extra} extra ({exc.name or module} is not installed)",
            hint=f"pip install 'mreg[{extra}]'",
        ) from None
