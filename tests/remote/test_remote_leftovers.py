"""gc --remote removes what killed uploads left, once older than the grace period, and nothing younger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from .serverside import ServerSide
from .test_remotes import fill, opts, registry


def later(hours: float) -> str:
    """MREG_NOW this long after the real clock: everything on the server is that much older to gc."""
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_gc_remote_removes_leftovers_older_than_the_grace_and_keeps_young_ones(tmp_path, staging_remote):
    remote = staging_remote
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
    # Even with no grace at all, a temporary written to within the hour may be a running upload's.
    a("gc", "--remote", "origin", "--grace", "0s", "-q")
    assert server.leftovers() == planted
    aged = {"MREG_NOW": later(2)}
    dry = a("gc", "--remote", "origin", "--grace", "1h", "--dry-run", "--json", env=aged).json
    assert server.leftovers() == planted
    text = a("gc", "--remote", "origin", "--grace", "1h", env=aged).out
    assert server.leftovers() == []
    assert dry["leftovers"] == {"count": len(planted), "bytes": 1000 * len(planted), "young": 0}
    assert f"removed {len(planted)} temporar" in text and "of killed uploads" in text
    a("verify", "--remote", "origin", "-q")
    assert a("gc", "--remote", "origin", "--grace", "1h", "--json", env=aged).json["leftovers"]["count"] == 0


def test_gc_remote_beside_a_running_push_keeps_its_temporaries(tmp_path, staging_remote):
    remote = staging_remote
    """gc, with no grace at all, while a large artifact uploads: its temporaries stay and the push completes.

    The push is paused (SIGSTOP) once its temporary is seen on the server, so that a gc run is certain to
    find it, then let go (SIGCONT) while more gc runs follow, until it ends.
    """
    url, options = remote()
    options = dict(options)
    if url.startswith("s3://"):
        options.update(multipart_threshold=str(5 << 20), part_size=str(5 << 20), max_concurrency="1")
    server = ServerSide(url, options)
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
    pushing = subprocess.Popen([sys.executable, "-m", "mreg", "push", "-q"], cwd=a.cwd, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not server.object_uploads():
        assert pushing.poll() is None, f"the push ended before its upload was seen: {pushing.stderr.read()}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(pushing.pid, signal.SIGSTOP)
    try:
        during = gc("gc", "--remote", "origin", "--grace", "0s", "--json").json["leftovers"]
        assert server.object_uploads()
    finally:
        os.kill(pushing.pid, signal.SIGCONT)
    assert during["young"] >= 1 and during["count"] == 0
    while pushing.poll() is None:
        assert gc("gc", "--remote", "origin", "--grace", "0s", "--json").json["leftovers"]["count"] == 0
    assert pushing.wait() == 0, pushing.stderr.read()
    a("verify", "--remote", "origin", "-q")
    assert a("verify", "--remote", "origin", "--json").json["checked"]["versions"] == 2
    assert server.leftovers() == []


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


def test_a_temporary_that_goes_while_gc_lists_it_is_passed_over(tmp_path):
    # A running push links its temporary into place at any moment: between gc's listing of a folder
    # and its look at one of the files listed, that file may be gone. It is no leftover then.
    from mreg.core.remote.backends import TEMPORARY, open_storage

    shard = tmp_path / "remote" / "objects" / "ab"
    shard.mkdir(parents=True)
    for name in ("one", "two"):
        (shard / f"{TEMPORARY}{name}").write_bytes(b"x" * 10)
    listing = open_storage(str(tmp_path / "remote"), {}).leftovers()
    first = next(listing)  # the folder is listed, and the first file looked at
    other = "two" if first.name.endswith("one") else "one"
    (shard / f"{TEMPORARY}{other}").unlink()  # the push's link, in a real run
    assert list(listing) == []


def test_a_key_that_goes_while_a_folder_is_listed_is_passed_over(tmp_path):
    # A push removes its claim when it ends, another gc deletes swept objects: a listing on a folder
    # must not fail on a file deleted between reading the folder and looking at the file.
    from mreg.core.remote.backends import open_storage

    claims = tmp_path / "remote" / "pushes"
    claims.mkdir(parents=True)
    for name in ("a.json", "b.json"):
        (claims / name).write_text("{}")
    listing = open_storage(str(tmp_path / "remote"), {}).list("pushes/")
    assert next(listing) == ("pushes/a.json", 2)  # sorted: the folder is read, a.json looked at
    (claims / "b.json").unlink()
    assert list(listing) == []
