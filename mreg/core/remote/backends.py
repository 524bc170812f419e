"""Opening a remote's storage from its URL: the scheme picks the backend.

Each backend module is imported only here, and only for its own scheme, so a
missing extra (s3fs, paramiko, gcsfs, adlfs) costs nothing until a remote of
that kind is used, and is then a usage error naming the pip command.
"""

from __future__ import annotations

from mreg.core.remote.storage import Storage
from mreg.errors import UsageError

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
    import importlib

    options = dict(options or {})
    scheme = scheme_of(url)
    if scheme in (None, "file"):
        from mreg.core.remote.folder import FolderStorage

        return FolderStorage(url, options)
    if scheme not in _BACKENDS:
        known = ", ".join(sorted({"file", *_BACKENDS}))
        raise UsageError(f"unknown remote URL scheme {scheme!r} in {url}", hint=f"known schemes: {known}, or a path")
    module_name, class_name, extra = _BACKENDS[scheme]
    try:
        # A backend may import its library when it is built, not when it is imported.
        return getattr(importlib.import_module(module_name), class_name)(url, options)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "a package"
        raise UsageError(f"{scheme}:// remotes need {missing}, which is not installed",
                         hint=f"pip install 'mreg[{extra}]'") from None
