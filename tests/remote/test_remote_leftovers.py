"""gc --remote removes what killed uploads left, once older than the grace period, and nothing younger."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from reliability.rel import STRACE

from .serverside import ServerSide
from .test_remotes import fill, opts, registry


def later(hours: float) -> str:
    """MREG_NOW this long after the real clock: everything on the server is that much older to gc."""
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_gc_remote_removes_leftovers_older_than_the_grace_and_keeps_young_ones(tmp_path, remote):
    url, options = remote()
    a = registry(tmp_path, "a")
    fill(a, 2)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    server = ServerSide(url, options)
    server.plant(1000)
    planted = server.leftovers()
    assert planted and all(".mreg-tmp" in name for name in planted)

    young = a("gc", "--remote", "origin", "--grace", "1h", "--json").json
    assert server.leftovers() == planted
    assert young["leftovers"] == {"count": 0, "bytes": 0, "young": len(planted)}
    aged = {"MREG_NOW": later(2)}
    dry = a("gc", "--remote", "origin", "--grace", "1h", "--dry-run", "--json", env=aged).json
    assert server.leftovers() == planted
    text = a("gc", "--remote", "origin", "--grace", "1h", env=aged).out
    assert server.leftovers() == []
    assert dry["leftovers"] == {"count": len(planted), "bytes": 1000 * len(planted), "young": 0}
    assert f"removed {len(planted)} temporar" in text and "of killed uploads" in text
    a("verify", "--remote", "origin", "-q")
    assert a("gc", "--remote", "origin", "--grace", "1h", "--json", env=aged).json["leftovers"]["count"] == 0


def test_gc_remote_beside_a_running_push_keeps_its_temporaries(tmp_path, remote):
    """gc runs over and over while a large artifact uploads: the upload's temporaries are young, so they stay."""
    url, options = remote()
    options = dict(options)
    if url.startswith("s3://"):
        # Many small parts, one at a time: the upload takes long enough for several gc runs.
        options.update(multipart_threshold=str(5 << 20), part_size=str(5 << 20), max_concurrency="1")
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    big = a.cwd / "big.bin"
    with open(big, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    a("register", "sentiment", big, "-q")
    gc = registry(tmp_path, "gc")
    gc("remote", "add", "origin", url, *opts(options), "-q")
    argv = [sys.executable, "-m", "mreg", "push", "-q"]
    if "://" not in url:
        # A local copy is over in a blink: each write of it is held up 30 ms, so gc runs beside it.
        if not STRACE:
            pytest.skip("strace is not installed")
        argv = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=write", "-e",
                "inject=write:delay_enter=30000", *argv]
    pushing = subprocess.Popen(argv, cwd=a.cwd, stderr=subprocess.PIPE, text=True)
    seen_young = 0
    while pushing.poll() is None:
        seen_young += gc("gc", "--remote", "origin", "--grace", "10m", "--json").json["leftovers"]["young"]
    assert pushing.wait() == 0, pushing.stderr.read()
    assert seen_young >= 1  # gc did run while the upload's temporaries were there
    a("verify", "--remote", "origin", "-q")
    assert a("verify", "--remote", "origin", "--json").json["checked"]["versions"] == 2
    assert ServerSide(url, options).leftovers() == []


def test_gc_remote_leaves_another_programs_s3_upload_alone(tmp_path, s3_remote):
    """A bucket may be shared: an old unfinished upload that is not to mreg's temporary or object keys stays."""
    url, options = s3_remote()
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    server = ServerSide(url, options)
    foreign = server._key("exports/report.parquet")
    upload = server.client.create_multipart_upload(Bucket=server.bucket, Key=foreign)["UploadId"]
    server.client.upload_part(Bucket=server.bucket, Key=foreign, UploadId=upload, PartNumber=1, Body=b"x" * 100)
    server.plant(100)
    done = a("gc", "--remote", "origin", "--grace", "1h", "--json", env={"MREG_NOW": later(2)}).json
    assert server.leftovers() == [f"upload {foreign}"]
    assert done["leftovers"]["count"] == 2
    server.client.abort_multipart_upload(Bucket=server.bucket, Key=foreign, UploadId=upload)
