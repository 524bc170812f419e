"""The registry lock: one holder at a time, named to a waiter, released on close, never through a planted file."""

from __future__ import annotations

import json
import os

import pytest

from mreg.core.lock import RegistryLock, read_info
from mreg.errors import BusyError, IntegrityError


@pytest.fixture
def paths(tmp_path):
    return str(tmp_path / "lock"), str(tmp_path / "lock.json")


def test_a_second_holder_waits_then_gives_up_naming_the_first(paths):
    first, second = RegistryLock(*paths), RegistryLock(*paths)
    with first:
        assert first.held
        info = read_info(paths[1])
        assert info["pid"] == os.getpid()
        with pytest.raises(BusyError) as caught:
            second.acquire(timeout=0.05)
        assert str(os.getpid()) in str(caught.value) and "0.05s" in str(caught.value)
        assert not second.held
    assert not first.held and not os.path.exists(paths[1])
    second.acquire(timeout=0.05)  # free again
    second.release()


def test_the_lock_is_reentrant_within_one_object(paths):
    lock = RegistryLock(*paths)
    lock.acquire()
    lock.acquire()
    lock.release()
    assert lock.held
    with pytest.raises(BusyError):
        RegistryLock(*paths).acquire(timeout=0)
    lock.release()
    assert not lock.held


def test_a_holder_that_died_is_reported_when_the_lock_is_taken(paths, capsys):
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    with open(paths[1], "w") as f:
        json.dump({"pid": dead, "host": os.uname().nodename, "since": 0, "command": "mreg register"}, f)
    with RegistryLock(*paths):
        pass
    assert f"broke the lock of pid {dead}" in capsys.readouterr().err


def test_a_fifo_or_folder_in_place_of_the_lock_file_is_damage(paths):
    os.mkfifo(paths[0])
    with pytest.raises(IntegrityError):
        RegistryLock(*paths).acquire(timeout=0)
    os.remove(paths[0])
    os.mkdir(paths[0])
    with pytest.raises(IntegrityError):
        RegistryLock(*paths).acquire(timeout=0)


def test_a_fifo_planted_as_lock_json_is_replaced_not_written_into(paths):
    os.mkfifo(paths[1])
    reader = os.open(paths[1], os.O_RDONLY | os.O_NONBLOCK)
    try:
        with RegistryLock(*paths):
            assert read_info(paths[1])["pid"] == os.getpid()
        assert os.read(reader, 4096) == b""
    finally:
        os.close(reader)
