"""A multipart upload to S3 holds only its parts in flight, however many parts the file has.

Long (2 GiB sent to SeaweedFS on loopback, about a minute): runs under MREG_FULL=1 only.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

FULL = os.environ.get("MREG_FULL") == "1"
GNU_TIME = "/usr/bin/time"
MIB = 1 << 20
UPLOAD = """
import json, sys
from mreg.core.remote.s3 import S3Storage
S3Storage(sys.argv[1], json.loads(sys.argv[2])).put_file(sys.argv[3], sys.argv[4])
"""


def peak_rss(argv: list[str], report) -> int:
    """Peak RSS of one process, in bytes, through GNU time (a child forked from pytest would report pytest's)."""
    import subprocess

    subprocess.run([GNU_TIME, "-f", "%M", "-o", str(report), *argv], check=True)
    return int(report.read_text().split()[-1]) * 1024


@pytest.mark.skipif(not FULL, reason="sends 2 GiB: MREG_FULL=1 runs it")
@pytest.mark.skipif(not os.path.exists(GNU_TIME), reason="peak RSS needs GNU time")
def test_a_multipart_upload_holds_only_its_parts_in_flight(s3_remote, tmp_path):
    url, options = s3_remote()
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(b"one byte")
    with open(big, "wb") as handle:
        handle.truncate(2 << 30)  # sparse: above the 1 GiB threshold, so 256 parts of 8 MiB, 4 at a time
    report = tmp_path / "rss"
    base = peak_rss([sys.executable, "-c", UPLOAD, url, json.dumps(options), "small", str(small)], report)
    peak = peak_rss([sys.executable, "-c", UPLOAD, url, json.dumps(options), "big", str(big)], report)
    # Each part in flight, and the event loop's copy of what the socket has not taken yet.
    in_flight = 2 * 8 * MIB * 4
    assert peak - base <= in_flight + 16 * MIB, f"{(peak - base) / MIB:.0f} MiB over a one-byte upload"
