"""The `remote` fixture: a factory of fresh, empty remote locations, one kind per parameter.

"folder" is a plain path (always available). "s3", "sftp" and "gcs" use real
servers (SeaweedFS, an unprivileged sshd, fake-gcs-server) from
tests/servers.py when it is there, and skip with the reason when it or its
server is missing.
"""

from __future__ import annotations

import itertools

import pytest

try:  # the real servers' fixtures, when the tree has them
    from servers import gcs_remote, s3_remote, sftp_remote  # noqa: F401
except ImportError:
    s3_remote = sftp_remote = gcs_remote = None


def _locations(request, tmp_path_factory, kind: str):
    if kind == "folder":
        base = tmp_path_factory.mktemp("remotes")
        counter = itertools.count()
        return lambda: (str(base / f"r{next(counter)}"), {})
    fixture = f"{kind}_remote"
    if globals().get(fixture) is None:
        pytest.skip(f"{kind}: tests/servers.py is not in this tree")
    return request.getfixturevalue(fixture)


@pytest.fixture(params=["folder", "s3", "sftp", "gcs"])
def remote(request, tmp_path_factory):
    """A factory: `make() -> (url, options)` gives a new empty remote location."""
    return _locations(request, tmp_path_factory, request.param)


# GCS creates an object in one conditional request: its uploads leave no
# temporary for gc to sweep or for a kill to be aimed at, and the object
# lands too close to its entry for a kill to be aimed between them.
@pytest.fixture(params=["folder", "s3", "sftp"])
def staging_remote(request, tmp_path_factory):
    """As `remote`, for the backends whose uploads stage their bytes in a temporary first."""
    return _locations(request, tmp_path_factory, request.param)


@pytest.fixture
def folder_remote(tmp_path_factory):
    base = tmp_path_factory.mktemp("remotes")
    counter = itertools.count()
    return lambda: (str(base / f"r{next(counter)}"), {})


def option_args(options: dict) -> list[str]:
    return [arg for key, value in options.items() for arg in ("--option", f"{key}={value}")]
