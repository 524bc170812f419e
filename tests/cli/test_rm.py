"""`mreg rm`: versions and whole models leave the index; the bytes stay until gc."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mregtest import run_on_pty


def object_path(project: Path, digest: str) -> Path:
    hexdigest = digest.split(":", 1)[1]
    return project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]


@pytest.fixture
def three(mreg, project) -> list[dict]:
    docs = []
    for i in range(3):
        (project / f"v{i}.bin").write_text(f"version {i}")
        docs.append(mreg("register", "m", f"v{i}.bin", "--json").json)
    return docs


def test_rm_one_version(mreg, project, three):
    r = mreg("rm", "m@1.0.1", "--reason", "trained on leaked data", "--json")
    assert r.json == {"removed_versions": ["m@1.0.1"]}
    mreg("show", "m@1.0.1", expect=1)
    assert [d["version"] for d in mreg("show", "m", "--json").json] == ["1.0.0", "1.0.2"]
    event = mreg("history", "m", "-n", "1", "--json").json[0]
    assert (event["action"], event["version"], event["from"], event["to"], event["reason"]) == \
        ("rm", "1.0.1", "development", None, "trained on leaked data")
    assert event["details"]["digest"] == three[1]["digest"]
    # the bytes stay until gc
    stored = object_path(project, three[1]["digest"])
    assert stored.read_text() == "version 1"
    mreg("verify")
    mreg("gc", "--grace", "0s", "-q")
    assert not stored.exists()
    assert object_path(project, three[0]["digest"]).exists()
    mreg("verify")


def test_plain_and_quiet_output(mreg, three):
    assert mreg("rm", "m@1.0.0").out == "removed m@1.0.0\n"
    r = mreg("rm", "m@latest", "-q")
    assert r.out == "" and r.err == ""
    assert [d["version"] for d in mreg("show", "m", "--json").json] == ["1.0.1"]


def test_production_needs_force(mreg, three):
    mreg("promote", "m@1.0.2", "--to", "production", "--reason", "ship")
    r = mreg("rm", "m@production", expect=1)
    assert "production" in r.err and "--force" in r.err
    assert mreg("show", "m@1.0.2", "--json").json["stage"] == "production"
    mreg("rm", "m", "--all", "--yes", expect=1)  # a whole model holding a production version too
    assert len(mreg("show", "m", "--json").json) == 3
    mreg("rm", "m@1.0.2", "--force", "--reason", "incident")
    mreg("show", "m@production", expect=1)
    assert mreg("list", "--json").json[0]["production"] is None


def test_a_whole_model_needs_yes_without_a_terminal(mreg, three):
    count = len(mreg("history", "m", "--json").json)
    r = mreg("rm", "m", "--all", expect=1)
    assert "--yes" in r.err
    assert len(mreg("show", "m", "--json").json) == 3
    assert len(mreg("history", "m", "--json").json) == count
    r = mreg("rm", "m", "--all", "--yes", "--json")
    assert r.json == {"removed_versions": ["m@1.0.0", "m@1.0.1", "m@1.0.2"]}
    mreg("show", "m", expect=1)
    assert mreg("list", "--json").json == []
    assert [e["action"] for e in mreg("history", "m", "--json").json][:3] == ["rm", "rm", "rm"]
    mreg("verify")


def run_at_terminal(project: Path, args: list[str], answer: bytes) -> tuple[int, str]:
    """Run mreg under a pseudo-terminal, answer its prompt; return (exit code, everything shown)."""
    run = run_on_pty(args, project, stream="both", answer=answer, timeout=30)
    return run.code, run.drawn.decode(errors="replace")


def test_a_whole_model_asks_at_a_terminal(mreg, project, three):
    code, shown = run_at_terminal(project, ["rm", "m", "--all"], b"n\n")
    assert code == 1, shown
    assert "Remove all 3 versions of m?" in shown
    assert len(mreg("show", "m", "--json").json) == 3
    code, shown = run_at_terminal(project, ["rm", "m", "--all"], b"y\n")
    assert code == 0, shown
    mreg("show", "m", expect=1)


def test_removed_numbers_are_never_handed_out_again(mreg, project, three):
    mreg("rm", "m@1.0.2")
    (project / "new.bin").write_text("new")
    assert mreg("register", "m", "new.bin", "--json").json["version"] == "1.0.3"
    r = mreg("register", "m", "new.bin", "--version", "1.0.2", expect=1)
    assert "never reused" in r.err
    mreg("rm", "m", "--all", "--yes")
    assert mreg("register", "m", "new.bin", "--json").json["version"] == "1.0.4"
    mreg("register", "m", "new.bin", "--version", "1.0.0", expect=1)
    assert mreg("register", "m", "new.bin", "--bump", "minor", "--json").json["version"] == "1.1.0"


def test_usage_errors(mreg, three):
    mreg("rm", "m", expect=2)  # a whole model needs --all
    mreg("rm", "m@1.0.0", "--all", "--yes", expect=2)
    mreg("rm", "m@9.9.9", expect=1)
    mreg("rm", "nosuch@1.0.0", expect=1)
    mreg("rm", "nosuch", "--all", "--yes", expect=1)
    mreg("rm", "Bad@1.0.0", expect=2)
    assert len(mreg("show", "m", "--json").json) == 3


def test_an_object_shared_by_two_versions_survives_removing_one(mreg, project):
    (project / "same.bin").write_bytes(b"identical bytes")
    a = mreg("register", "a", "same.bin", "--json").json
    b = mreg("register", "b", "same.bin", "--json").json
    assert a["digest"] == b["digest"]
    mreg("rm", "a@1.0.0")
    report = mreg("gc", "--grace", "0s", "--json").json
    assert report["objects"] == 0
    mreg("get", "b@1.0.0", "-o", str(project / "out.bin"))
    assert hashlib.sha256((project / "out.bin").read_bytes()).hexdigest() == b["digest"].split(":")[1]
    mreg("verify")


def test_a_removed_version_keeps_its_history_and_says_it_was_removed(mreg, project):
    (project / "m.bin").write_bytes(b"model")
    mreg("register", "m", "m.bin")
    mreg("register", "m", "m.bin")
    mreg("rm", "m@1.0.0", "--reason", "leaked data")
    events = mreg("history", "m@1.0.0", "--json").json
    assert [(e["action"], e["reason"]) for e in events] == [("rm", "leaked data"), ("register", "")]
    assert mreg("history", "m@v1.0.0", "--json").json == events
    r = mreg("show", "m@1.0.0", expect=1)
    assert r.err.startswith("mreg: error: m@1.0.0 was removed") and "mreg history m@1.0.0" in r.err
    mreg("get", "m@1.0.0", "-o", "x", expect=1)
    mreg("history", "m@9.9.9", expect=1)
    # A whole model removed: its versions' histories stay readable too.
    mreg("rm", "m", "--all", "--yes")
    assert mreg("history", "m@1.0.1", "--json").json[0]["action"] == "rm"


def test_a_whole_model_holding_production_is_refused_before_asking(mreg, project, three):
    # Asking first and refusing after the "y" wastes the answer: the refusal comes first.
    mreg("promote", "m@1.0.2", "--to", "production", "--reason", "ship")
    code, shown = run_at_terminal(project, ["rm", "m", "--all"], b"y\n")
    assert code == 1 and "m@1.0.2 is in production" in shown and "--force" in shown, shown
    assert "Remove" not in shown and "[y/N]" not in shown, shown
    assert len(mreg("show", "m", "--json").json) == 3
    code, shown = run_at_terminal(project, ["rm", "m", "--all", "--force"], b"y\n")
    assert code == 0 and "Remove all 3 versions of m?" in shown, shown
    mreg("show", "m", expect=1)


def test_no_answer_at_the_prompt_is_a_no_not_an_interruption(mreg, project, three):
    code, shown = run_at_terminal(project, ["rm", "m", "--all"], b"\x04")  # Ctrl-D
    assert code == 1 and "nothing removed" in shown and "interrupted" not in shown, shown
    code, shown = run_at_terminal(project, ["rm", "m", "--all"], b"\n")
    assert code == 1 and "nothing removed" in shown, shown
    assert len(mreg("show", "m", "--json").json) == 3
    code, shown = run_at_terminal(project, ["rm", "m", "--all"], b"YES\n")
    assert code == 0, shown
