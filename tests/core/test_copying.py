"""copying: the kernel copy and the copy by hand, each hashing exactly the bytes it copied."""

from __future__ import annotations

import hashlib
import os

import pytest


def test_kernel_copy_hashes_the_copy_and_leaves_no_thread(tmp_path):
    import threading

    from mreg.core.copying import PIECE, copy_in_kernel

    data = os.urandom(2 * PIECE + 12345)  # three pieces, the last one short
    (tmp_path / "src.bin").write_bytes(data)
    src = os.open(tmp_path / "src.bin", os.O_RDONLY)
    dst = os.open(tmp_path / "dst.bin", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert copy_in_kernel(src, dst) == (hashlib.sha256(data).hexdigest(), len(data))
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "dst.bin").read_bytes() == data
    assert [t.name for t in threading.enumerate() if t.name == "mreg-copy"] == []


def test_kernel_copy_gives_way_to_the_copy_by_hand_where_it_cannot_copy(tmp_path):
    from mreg.core.copying import copy_by_hand, copy_in_kernel

    # copy_file_range refuses a pipe as its source (EINVAL): nothing may be
    # consumed, so that the copy by hand still sees every byte.
    read_end, write_end = os.pipe()
    os.write(write_end, b"streamed bytes")
    os.close(write_end)
    dst = os.open(tmp_path / "dst.bin", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert copy_in_kernel(read_end, dst) is None
        assert copy_by_hand(read_end, dst, 0) == (hashlib.sha256(b"streamed bytes").hexdigest(), 14)
    finally:
        os.close(read_end)
        os.close(dst)
    assert (tmp_path / "dst.bin").read_bytes() == b"streamed bytes"


@pytest.mark.parametrize("size", [0, 10_000, (8 << 20) - 1, 8 << 20, (20 << 20) + 7])
def test_hash_fd_hashes_what_is_left_on_both_sides_of_the_read_ahead(tmp_path, size):
    from mreg.core.copying import hash_fd

    data = os.urandom(size)
    (tmp_path / "f.bin").write_bytes(data)
    fd = os.open(tmp_path / "f.bin", os.O_RDONLY)
    try:
        seen = []
        assert hash_fd(fd, seen.append) == (hashlib.sha256(data).hexdigest(), size)
        assert sum(seen) == size
        assert os.lseek(fd, 0, os.SEEK_CUR) == size
        os.lseek(fd, 3, os.SEEK_SET)  # only what is left
        assert hash_fd(fd) == (hashlib.sha256(data[3:]).hexdigest(), max(size - 3, 0))
    finally:
        os.close(fd)


def test_copy_by_hand_copies_and_hashes_and_tells_progress(tmp_path):
    from mreg.core.copying import copy_by_hand

    data = os.urandom(3 << 20)
    (tmp_path / "src.bin").write_bytes(data)
    src = os.open(tmp_path / "src.bin", os.O_RDONLY)
    dst = os.open(tmp_path / "dst.bin", os.O_RDWR | os.O_CREAT, 0o644)
    seen = []
    try:
        assert copy_by_hand(src, dst, len(data), seen.append) == (hashlib.sha256(data).hexdigest(), len(data))
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "dst.bin").read_bytes() == data
    assert sum(seen) == len(data)
