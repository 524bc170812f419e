"""fsutil: whole-file replacement, reads that never follow a link or block on a FIFO, OS errors in words."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from mreg.core.fsutil import (kind_of, read_regular_file, real_folder, real_folders, storage_error,
                              translate_os_errors, write_atomic)
from mreg.errors import ExitCode, IntegrityError, StorageError


def test_write_atomic_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b"old and longer")
    inode = os.stat(path).st_ino
    write_atomic(str(path), b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_ino != inode  # a new file renamed over the old, never written into it
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 & ~_umask()
    write_atomic(str(tmp_path / "g"), b"x")
    assert stat.S_IMODE(os.stat(tmp_path / "g").st_mode) == 0o644 & ~_umask()
    assert sorted(os.listdir(tmp_path)) == ["f.json", "g"]


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_read_regular_file_reads_a_file_and_refuses_anything_else(tmp_path):
    (tmp_path / "f").write_bytes(b"data" * 50000)
    assert read_regular_file(str(tmp_path / "f"), "the thing") == b"data" * 50000
    os.symlink(tmp_path / "f", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    for name in ("link", "fifo"):
        with pytest.raises(IntegrityError) as caught:
            read_regular_file(str(tmp_path / name), "the thing")
        assert "the thing" in str(caught.value)
    with pytest.raises(FileNotFoundError):
        read_regular_file(str(tmp_path / "none"), "the thing")


def test_real_folder_refuses_a_link_and_makes_a_folder_when_asked(tmp_path):
    os.mkdir(tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    with pytest.raises(IntegrityError):
        real_folder(str(tmp_path / "link"))
    with pytest.raises(FileNotFoundError):
        real_folder(str(tmp_path / "new"))
    assert real_folders(str(tmp_path), "new", "deeper", create=True) == str(tmp_path / "new" / "deeper")
    assert (tmp_path / "new" / "deeper").is_dir()


def test_kind_of_names_each_kind(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    os.symlink("x", tmp_path / "link")
    assert kind_of(os.lstat(tmp_path / "fifo").st_mode) == "a FIFO"
    assert kind_of(os.lstat(tmp_path / "link").st_mode) == "a symbolic link"
    assert kind_of(os.lstat(tmp_path).st_mode) == "a folder"


def test_os_errors_become_storage_errors_in_words():
    error = storage_error(OSError(errno.ENOSPC, "No space left on device", "/x/y"), "store the artifact")
    assert isinstance(error, StorageError) and error.exit_code == ExitCode.IO
    assert str(error) == "cannot store the artifact: disk full: /x/y"
    with pytest.raises(StorageError) as caught:
        with translate_os_errors("write the index"):
            raise PermissionError(errno.EACCES, "Permission denied", "/idx")
    assert str(caught.value) == "cannot write the index: permission denied: /idx"


def test_deferred_durability_covers_its_root_in_its_own_context_only(tmp_path):
    import threading

    from mreg.core.fsutil import deferred_durability, durable

    root, beside = tmp_path / "clone", tmp_path / "clone-other"
    root.mkdir()
    seen = {}
    with deferred_durability(str(root)):
        write_atomic(str(root / "f"), b"x")
        seen["inside"] = durable(str(root / "models" / "_index.json")), durable(str(root))
        seen["beside"] = durable(str(beside / "f")), durable(str(tmp_path))
        worker = threading.Thread(target=lambda: seen.__setitem__("thread", durable(str(root / "f"))))
        worker.start()
        worker.join()
    seen["after"] = durable(str(root / "f"))
    assert seen == {"inside": (False, False), "beside": (True, True), "thread": True, "after": True}
    assert (root / "f").read_bytes() == b"x"
    with pytest.raises(RuntimeError), deferred_durability(str(root)):
        raise RuntimeError("a failed clone")  # no flush, and the deferral ends all the same
    assert durable(str(root / "f"))
