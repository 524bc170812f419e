"""`mreg history` and the hash-chained history behind it (SPEC §2, §6), through the real CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
EVENT_KEYS = {"time", "user", "action", "name", "version", "from", "to", "reason", "details"}


def history_file(project: Path, name: str) -> Path:
    return project / ".mreg" / "models" / name / "_history.jsonl"


def make_file(project: Path, name: str, text: str) -> str:
    path = project / name
    path.write_text(text)
    return str(path)


BUSY_SCRIPT = [
    ("register", "m", "m0.bin", "-m", "acc=0.0", "--reason", "train 0"),
    ("register", "m", "m1.bin", "-m", "acc=0.1", "--reason", "train 1"),
    ("register", "m", "m2.bin", "-m", "acc=0.2", "--reason", "train 2"),
    ("transition", "m@1.0.0", "testing", "--reason", "try it"),
    ("promote", "m@1.0.0", "--to", "production", "--reason", "first release"),
    ("promote", "m@1.0.1", "--to", "production", "--reason", "second release"),
    ("rollback", "m", "--reason", "latency"),
    ("update", "m@1.0.0", "-m", "acc=0.5", "-t", "team=nlp", "--reason", "re-evaluated"),
    ("transition", "m@1.0.2", "archived", "--reason", "dead end"),
    ("register", "other", "o.bin"),
    ("rm", "m@1.0.1", "--reason", "leaked data"),
    ("gc", "--archived-older-than", "0s", "-q"),
]


@pytest.fixture(scope="module")
def busy_template(tmp_path_factory):
    """Built once per module with the real CLI, copied for each test."""
    import os

    folder = tmp_path_factory.mktemp("busy")
    env = dict(os.environ, MREG_USER="tester@example.com", NO_COLOR="1")
    env.pop("MREG_REPO", None)
    for i in range(3):
        (folder / f"m{i}.bin").write_text(f"m{i}")
    (folder / "o.bin").write_text("o")
    subprocess.run([sys.executable, "-m", "mreg", "init"], cwd=folder, env=env, check=True, capture_output=True)
    for args in BUSY_SCRIPT:
        subprocess.run([sys.executable, "-m", "mreg", *args], cwd=folder, env=env, check=True, capture_output=True)
    return folder / ".mreg"


@pytest.fixture
def busy(mreg, project, busy_template):
    """A model `m` whose history holds every kind of event, and a model `other`."""
    import shutil

    shutil.rmtree(project / ".mreg")
    shutil.copytree(busy_template, project / ".mreg")
    return mreg


def test_every_change_is_an_event_with_every_field(busy):
    events = busy("history", "m", "--json").json
    actions = [e["action"] for e in reversed(events)]
    assert actions == [
        "register", "register", "register",
        "transition",
        "promote", "promote",
        "promote", "promote", "promote", "supersede",
        "rollback", "rollback",
        "update",
        "transition",
        "rm",
        "gc",
    ]
    for event in events:
        assert EVENT_KEYS <= set(event), event
        assert ISO_UTC.match(event["time"]), event["time"]
        assert event["user"] == "tester@example.com"
        assert event["name"] == "m"
        assert isinstance(event["details"], dict)
    by_action = {}
    for event in events:
        by_action.setdefault(event["action"], event)  # newest of each kind
    assert by_action["supersede"]["reason"] == "superseded by 1.0.1"
    assert (by_action["supersede"]["version"], by_action["supersede"]["from"], by_action["supersede"]["to"]) == \
        ("1.0.0", "production", "deprecated")
    assert by_action["update"]["details"]["changes"] == {"metrics.acc": [0.0, 0.5], "tags.team": [None, "nlp"]}
    assert by_action["update"]["reason"] == "re-evaluated"
    assert (by_action["rm"]["version"], by_action["rm"]["from"], by_action["rm"]["to"], by_action["rm"]["reason"]) == \
        ("1.0.1", "deprecated", None, "leaked data")
    assert (by_action["gc"]["version"], by_action["gc"]["from"], by_action["gc"]["to"]) == ("1.0.2", "archived", None)
    register = events[-1]
    assert (register["from"], register["to"], register["reason"]) == (None, "development", "train 0")
    assert register["details"]["digest"].startswith("sha256:")


def test_newest_first_and_whole_registry(busy):
    everything = busy("history", "--json").json
    times = [e["time"] for e in everything]
    assert times == sorted(times, reverse=True)
    assert everything[0]["action"] == "gc"
    assert {e["name"] for e in everything} == {"m", "other"}
    assert len(everything) == len(busy("history", "m", "--json").json) + 1
    # within one operation (one timestamp) the later event comes first too
    promote = [e for e in everything if e["reason"] == "second release" or e["action"] == "supersede"]
    assert [e["action"] for e in promote] == ["supersede", "promote", "promote", "promote"]


def test_history_of_one_version(busy):
    events = busy("history", "m@1.0.0", "--json").json
    assert {e["version"] for e in events} == {"1.0.0"}
    assert [e["action"] for e in events] == ["update", "rollback", "supersede", "promote", "promote",
                                             "transition", "register"]
    assert busy("history", "m@production", "--json").json == events


def test_limit_action_and_since(busy, project):
    assert len(busy("history", "--limit", "3", "--json").json) == 3
    assert busy("history", "-n", "0", "--json").json == []
    first_two = busy("history", "m", "-n", "2", "--json").json
    assert [e["action"] for e in first_two] == ["gc", "rm"]
    picked = busy("history", "--action", "promote", "--action", "rollback", "--json").json
    assert {e["action"] for e in picked} == {"promote", "rollback"} and len(picked) == 7
    assert len(busy("history", "--since", "1h", "--json").json) == len(busy("history", "--json").json)
    assert len(busy("history", "--since", "-1h", "--json").json) == len(busy("history", "--json").json)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert busy("history", "--since", tomorrow, "--json").json == []
    assert busy("history", "--since", "2000-01-01T00:00:00Z", "--json").json == busy("history", "--json").json
    assert len(busy("history", "other", "--since", "1d", "--json").json) == 1


def test_table_output_one_line_per_event(busy):
    out = busy("history", "m").out
    lines = out.splitlines()
    assert len(lines) == len(busy("history", "m", "--json").json)
    first = lines[0].split("\t")
    assert first[2:7] == ["gc", "m", "1.0.2", "archived", "-"]
    assert any("superseded by 1.0.1" in line for line in lines)


def test_bad_arguments(busy):
    busy("history", "--action", "teleport", expect=2)
    busy("history", "--since", "yesterday", expect=2)
    busy("history", "--limit", "-1", expect=2)
    busy("history", "Bad_Name", expect=2)
    busy("history", "nosuch", expect=1)
    busy("history", "m@9.9.9", expect=1)


def test_history_survives_removal_of_the_whole_model(mreg, project):
    mreg("register", "gone", make_file(project, "g.bin", "g"))
    mreg("rm", "gone", "--all", "--yes", "--reason", "cleanup")
    events = mreg("history", "gone", "--json").json
    assert [e["action"] for e in events] == ["rm", "register"]
    assert events[0]["reason"] == "cleanup"


def test_one_model_history_does_not_read_the_others(busy, project):
    """Damage every other model's index and history: `history NAME` is not affected, the whole is."""
    expected = busy("history", "m", "--json").json
    other = project / ".mreg" / "models" / "other"
    (other / "_history.jsonl").write_text("garbage\n")
    (other / "_index.json").write_text("{not json")
    assert busy("history", "m", "--json").json == expected
    assert busy("history", "m@1.0.0", "--json").json == [e for e in expected if e["version"] == "1.0.0"]
    r = busy("history", expect=3)
    assert "other" in r.err


# --- the hash chain --------------------------------------------------------


def five_events(registry, project) -> Path:
    registry.register("m", make_file(project, "a.bin", "a"), reason="one")
    registry.promote("m@1.0.0", to="staging", reason="two, three")
    registry.update("m@1.0.0", metrics=["acc=1"], reason="four")
    registry.update("m@1.0.0", metrics=["acc=2"], reason="five")
    path = history_file(project, "m")
    assert len(path.read_bytes().splitlines()) == 5
    return path


def rewrite(path: Path, change) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(change(lines)))


def edit_reason(lines):
    event = json.loads(lines[1])
    event["reason"] = "nothing to see here"
    lines[1] = json.dumps(event, separators=(",", ":")).encode() + b"\n"
    return lines


def edit_and_rehash(lines):
    """An editor who also recomputes the edited event's own hash: the next event's link breaks."""
    from mreg.core.history import seal

    event = json.loads(lines[2])
    event["user"] = "mallory"
    resealed = seal({k: v for k, v in event.items() if k not in ("hash", "seq", "prev")}, event["prev"], event["seq"])
    lines[2] = json.dumps(resealed, separators=(",", ":")).encode() + b"\n"
    return lines


@pytest.mark.parametrize(
    "change, fault",
    [
        (edit_reason, "event 2 was edited"),
        (edit_and_rehash, "event 4 does not follow event 3"),
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], "event 2 does not follow event 1"),
        (lambda lines: [lines[0], *lines[2:]], "event 2 does not follow event 1"),
        (lambda lines: lines[:4], "truncated: 4 of 5 events"),
        (lambda lines: [*lines[:4], lines[4][:40]], "event 5 is not valid JSON"),
        (lambda lines: [], "truncated: 0 of 5 events"),
    ],
    ids=["edited", "edited-and-rehashed", "reordered", "deleted", "truncated", "cut-mid-event", "emptied"],
)
def test_verify_names_the_first_bad_event(mreg, registry, project, change, fault):
    path = five_events(registry, project)
    mreg("verify")
    rewrite(path, change)
    r = mreg("verify", expect=3)
    assert fault in r.out, r
    assert "_history.jsonl" in r.out and "m@*" in r.out
    report = mreg("verify", "--json", expect=3).json
    assert report["ok"] is False
    assert any(fault in p["problem"] for p in report["problems"])


def test_verify_detects_a_deleted_history_file(mreg, registry, project):
    path = five_events(registry, project)
    path.unlink()
    r = mreg("verify", expect=3)
    assert "missing" in r.out
    r = mreg("history", "m", expect=3)
    assert "missing" in r.err and "Traceback" not in r.err


CRASH_AFTER_APPEND = textwrap.dedent("""
    import os, sys
    import mreg
    from mreg.core import index
    # Die the moment the events are on disk, before the index is replaced:
    # the state a power cut in the middle of a commit leaves.
    index.save_model = lambda layout, model: os._exit(9)
    mreg.open(sys.argv[1]).update("m@1.0.0", metrics=["acc=99"], reason="never happened")
""")


def test_a_crash_mid_commit_leaves_no_half_event(mreg, registry, project):
    path = five_events(registry, project)
    before = mreg("history", "m", "--json").json
    crashed = subprocess.run([sys.executable, "-c", CRASH_AFTER_APPEND, str(project)])
    assert crashed.returncode == 9
    assert len(path.read_bytes().splitlines()) == 6  # the event reached the file...
    assert mreg("history", "m", "--json").json == before  # ...but never happened
    assert mreg("show", "m@1.0.0", "--json").json["metrics"] == {"acc": 2}
    mreg("verify")
    # and a torn write of that event (half a line) does not break reads either
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 37])
    assert mreg("history", "m", "--json").json == before
    mreg("verify")
    # the next write replaces the uncommitted tail
    mreg("update", "m@1.0.0", "-m", "acc=3", "--reason", "six")
    after = mreg("history", "m", "--json").json
    assert len(after) == 6 and after[0]["reason"] == "six" and after[1:] == before
    assert len(path.read_bytes().splitlines()) == 6
    mreg("verify")


def test_a_blank_mreg_user_falls_back_instead_of_recording_spaces(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    doc = mreg("register", "m", "m.bin", "--json", env={"MREG_USER": "   "}).json
    assert doc["created_by"].strip() and doc["created_by"] == doc["lineage"]["user"]
    assert mreg("history", "m", "--json").json[0]["user"] == doc["created_by"]
    doc = mreg("register", "m", "m.bin", "--json", env={"MREG_USER": " ana@example.com\n"}).json
    assert doc["created_by"] == "ana@example.com"
