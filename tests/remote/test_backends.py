"""Each backend refuses a malformed URL or option before any connection (exit 2), and checks keys the same way."""

from __future__ import annotations

import pytest

from mreg.core.remote.backends import check_key, check_prefix
from mreg.errors import ExitCode, IntegrityError, MregError


def backend(name: str):
    module = pytest.importorskip(f"mreg.core.remote.{name}")
    return {"s3": "S3Storage", "sftp": "SftpStorage", "gcs": "GcsStorage", "azure": "AzureStorage"}[name], module


@pytest.mark.parametrize(
    "name, url, options, says",
    [
        ("s3", "s3:///prefix", {}, "not an S3 URL"),
        ("s3", "s3://bucket/p", {"bogus": "1"}, "bogus"),
        ("s3", "s3://bucket/p", {"part_size": "1000"}, "part_size"),
        ("s3", "s3://bucket/p", {"multipart_threshold": str(6 << 30)}, "multipart_threshold"),
        ("s3", "s3://bucket/../up", {}, "plain relative path"),
        ("sftp", "sftp://user@host", {}, "no folder"),
        ("sftp", "sftp://user@host/srv", {"port": "x"}, "port"),
        ("sftp", "sftp://user@host/srv", {"known_host": "f"}, "known_host"),
        ("gcs", "gs://bucket/p", {"chunk_size": "1000"}, "chunk_size"),
        ("gcs", "gs:///p", {}, "not a GCS URL"),
        ("azure", "az://container/p", {}, "no Azure account"),
        ("azure", "az://container/p", {"account_name": "a", "max_concurrency": "many"}, "max_concurrency"),
    ],
)
def test_bad_urls_and_options_are_usage_errors(name, url, options, says, monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    cls, module = backend(name)
    with pytest.raises(MregError) as caught:
        getattr(module, cls)(url, options)
    expected = ExitCode.INTEGRITY if "plain relative" in says else ExitCode.USAGE
    assert caught.value.exit_code == expected
    assert says in str(caught.value)


@pytest.mark.parametrize("key", ["a/b", "objects/ab/cdef", "models/m/log/00000001.json", "x"])
def test_plain_keys_pass(key):
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "/a", "a/", "a//b", "..", "a/../b", "./a", "a\\b", "a\x00b", "a/.mreg-tmp-1", ".mreg-tmp/x"])
def test_other_keys_are_refused(key):
    with pytest.raises(IntegrityError):
        check_key(key)


def test_prefixes_end_in_a_slash():
    assert check_prefix("") == ""
    assert check_prefix("models/") == "models/"
    with pytest.raises(IntegrityError):
        check_prefix("models")
