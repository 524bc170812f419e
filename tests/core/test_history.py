"""The hash-chained, append-only history file (mreg.core.history)."""

from __future__ import annotations

import json

import pytest

from mreg.core.history import GENESIS, append, check_chain, read_events, seal
from mreg.errors import IntegrityError


def chain(count: int) -> list[dict]:
    events, prev = [], GENESIS
    for seq in range(1, count + 1):
        event = seal({"time": "2026-01-31T12:00:00.000000Z", "user": "u", "action": "update", "name": "m",
                      "version": "1.0.0", "from": "development", "to": "development", "reason": f"r{seq}",
                      "details": {}}, prev, seq)
        prev = event["hash"]
        events.append(event)
    return events


def write(tmp_path, events) -> tuple[str, int, str]:
    path = str(tmp_path / "_history.jsonl")
    size = append(path, 0, events, count=0, head=GENESIS)
    return path, size, events[-1]["hash"]


def test_a_sound_chain_reads_back(tmp_path):
    events = chain(4)
    path, size, head = write(tmp_path, events)
    assert check_chain(path, 4, head) is None
    assert read_events(path, 4) == events
    assert read_events(path, 2) == events[:2]
    assert read_events(path, 0) == []


def test_seal_covers_every_field():
    base = seal({"action": "update", "reason": "a"}, GENESIS, 1)["hash"]
    assert seal({"action": "update", "reason": "a"}, GENESIS, 1)["hash"] == base
    assert seal({"action": "update", "reason": "b"}, GENESIS, 1)["hash"] != base
    assert seal({"action": "rm", "reason": "a"}, GENESIS, 1)["hash"] != base
    assert seal({"action": "update", "reason": "a"}, GENESIS, 2)["hash"] != base
    assert seal({"action": "update", "reason": "a"}, "sha256:" + "1" * 64, 1)["hash"] != base


def test_append_drops_an_uncommitted_tail(tmp_path):
    events = chain(4)
    path, size, _ = write(tmp_path, events[:2])
    with open(path, "ab") as handle:
        handle.write(b'{"half an ev')  # a crash mid-append
    assert read_events(path, 2) == events[:2]
    assert check_chain(path, 2, events[1]["hash"]) is None
    new_size = append(path, size, events[2:], count=2, head=events[1]["hash"])
    assert check_chain(path, 4, events[3]["hash"]) is None
    with open(path, "rb") as handle:
        assert len(handle.read()) == new_size


def test_append_refuses_a_file_shorter_than_committed(tmp_path):
    path, size, _ = write(tmp_path, chain(2))
    with pytest.raises(IntegrityError, match="truncated"):
        append(path, size + 10, chain(1), count=2, head=GENESIS)


def test_faults_are_named(tmp_path):
    events = chain(3)
    path, _, head = write(tmp_path, events)
    lines = open(path, "rb").read().splitlines(keepends=True)

    def fault(new_lines, count=3, head=head):
        with open(path, "wb") as handle:
            handle.write(b"".join(new_lines))
        return check_chain(path, count, head)

    edited = json.loads(lines[0])
    edited["reason"] = "forged"
    assert fault([json.dumps(edited).encode() + b"\n", *lines[1:]]) == "event 1 was edited (its hash does not match)"
    assert "event 2 does not follow" in fault([lines[0], lines[2], lines[1]])
    assert "truncated: 2 of 3" in fault(lines[:2])
    assert "event 3 is not valid JSON" in fault([*lines[:2], b"]]\n"])
    assert "does not match the index" in fault(lines, head="sha256:" + "1" * 64)
    assert check_chain(str(tmp_path / "none.jsonl"), 0, GENESIS) is None
    assert check_chain(str(tmp_path / "none.jsonl"), 1, head) == "history file is missing"
    with pytest.raises(IntegrityError, match="missing"):
        read_events(str(tmp_path / "none.jsonl"), 1)
    fault(lines[:1])
    with pytest.raises(IntegrityError, match="truncated"):
        read_events(path, 3)
