"""Real storage servers for the remote tests: SeaweedFS for S3, OpenSSH for SFTP,
Azurite for Azure, fake-gcs-server for GCS.

Each fixture starts its server once per test session on free loopback ports
(tests/server_processes.py), waits until it answers (bounded), and kills it at
the end. It returns a factory: `make()` gives `(url, options)` for a fresh,
empty remote location on every call, ready for `open_storage(url, options)` or
`--option K=V`.

A server that cannot start skips the tests that need it, with the reason;
under CI (`CI` set) it fails them instead, so CI shows the servers running.
"""

from __future__ import annotations

import os
import secrets

import pytest

from server_processes import Unavailable, start_azurite, start_fake_gcs, start_seaweedfs, start_sshd


def unavailable(reason: str, required_in_ci: bool = True):
    """Skip (or, under CI, fail) every test that needs this server."""
    if os.environ.get("CI") and required_in_ci:
        pytest.fail(f"CI needs this server: {reason}", pytrace=False)
    pytest.skip(reason)


class Remotes:
    """`make()` gives (url, options) for a new, empty remote location; `server`, `base`, `options` say where."""

    def __init__(self, server, base: str, options: dict[str, str]) -> None:
        self.server = server
        self.base = base
        self.options = options
        self.count = 0

    def __call__(self) -> tuple[str, dict[str, str]]:
        self.count += 1
        return f"{self.base}/r{self.count}-{secrets.token_hex(4)}", dict(self.options)

    make = __call__


def _serve(start, folder, required_in_ci: bool = True):
    try:
        server, base, options = start(folder)
    except Unavailable as exc:
        unavailable(str(exc), required_in_ci)
    try:
        yield Remotes(server, base, options)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_remote(tmp_path_factory):
    """S3 remotes on a SeaweedFS server (`weed mini`) on loopback; only its own credentials are accepted."""
    yield from _serve(start_seaweedfs, tmp_path_factory.mktemp("seaweedfs"))


@pytest.fixture(scope="session")
def sftp_remote(tmp_path_factory):
    """SFTP remotes on an OpenSSH server of its own on loopback: key login, its host key in a known_hosts file."""
    yield from _serve(start_sshd, tmp_path_factory.mktemp("sshd"))


@pytest.fixture(scope="session")
def azure_remote(tmp_path_factory):
    """Azure remotes on Azurite, the Azure Storage emulator, on loopback.

    Azurite comes from npm, not PyPI: CI requires it only where it installed it
    (and said so in AZURITE_BLOB).
    """
    yield from _serve(start_azurite, tmp_path_factory.mktemp("azurite"), bool(os.environ.get("AZURITE_BLOB")))



@pytest.fixture(scope="session")
def gcs_remote(tmp_path_factory):
    """GCS remotes on fake-gcs-server, a GCS emulator, on loopback (in memory, any credentials accepted)."""
    yield from _serve(start_fake_gcs, tmp_path_factory.mktemp("fake-gcs"))
