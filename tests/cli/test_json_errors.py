"""With --json, every failure is also one JSON document on stdout; stderr keeps its line."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

KINDS = {1: "refused", 2: "usage", 3: "integrity", 4: "busy", 5: "io", 130: "interrupted", 143: "interrupted"}

# One failing command line for every command that takes --json (and a few more ways
# to fail), with the exit code expected. `small` is the registry they run in.
FAILURES = [
    (["init", "a", "--repo", "b", "--json"], 2),
    (["init", "model.bin/inside", "--json"], 5),  # a folder under a file: the filesystem refuses
    (["register", "Bad Name", "model.bin", "--json"], 2),
    (["register", "sentiment", "missing.bin", "--json"], 1),
    (["register", "sentiment", "--json"], 2),  # typer: missing argument
    (["update", "sentiment@9.9.9", "-m", "a=1", "--json"], 1),
    (["update", "sentiment@1.0.0", "-m", "a=text", "--json"], 2),
    (["show", "nope@1.0.0", "--json"], 1),
    (["show", "--json", "sentiment@1.0.0", "--bogus"], 2),  # typer: no such option
    (["list", "--json", "extra"], 2),
    (["ls", "--json", "--repo", "/nonexistent/registry"], 1),
    (["get", "sentiment@9.9.9", "-o", "x", "--json"], 1),
    (["get", "sentiment@1.0.0", "--path", "-o", "x", "--json"], 2),
    (["history", "-n", "two", "--json"], 2),
    (["history", "nosuch", "--json"], 1),
    (["search", "metrics.accuracy >", "--json"], 2),
    (["diff", "sentiment@1.0.0", "--json"], 2),
    (["diff", "nope@1.0.0", "sentiment", "--json"], 1),
    (["transition", "sentiment@1.0.0", "production", "--json"], 1),
    (["promote", "sentiment@1.0.2", "--to", "production", "--if", "metrics.accuracy > 1", "--json"], 1),
    (["promote", "sentiment@1.0.2", "--to", "nowhere", "--json"], 2),
    (["rollback", "sentiment", "--json"], 1),
    (["check", "sentiment@1.0.2", "metrics.accuracy >", "--json"], 2),
    (["check", "sentiment@1.0.2", "metrics.nope > 1", "--json"], 1),
    (["rm", "sentiment@production", "--json"], 1),
    (["gc", "--grace", "bogus", "--json"], 2),
    (["verify", "nope", "--json"], 1),
]


def _error_document(run) -> dict:
    doc = json.loads(run.out)  # exactly one document: json.loads refuses anything after it
    assert set(doc) >= {"error"}, run
    error = doc["error"]
    assert set(error) >= {"code", "kind", "message", "hint"}, run
    assert error["code"] == run.code and error["kind"] == KINDS[run.code], run
    # stderr says the same, on its one line (and its hint lines).
    lines = run.err.splitlines()
    assert lines[0] == "mreg: error: " + error["message"].replace("\n", " "), run
    if error["hint"] is not None:
        assert "hint: " + error["hint"].splitlines()[0] in lines, run
    return doc


def test_every_failure_is_one_json_document(small, mreg):
    # One registry for every line (they change nothing): a fixture per line costs seconds each.
    before = sorted(str(p) for p in (small / ".mreg").rglob("*"))
    for args, code in FAILURES:
        run = mreg(*args, expect=code)
        _error_document(run)
        assert sorted(str(p) for p in (small / ".mreg").rglob("*")) == before, args
        # Without --json, stdout stays empty.
        plain = mreg(*[a for a in args if a != "--json"], expect=code)
        assert plain.out == "" and plain.err.splitlines()[0] == run.err.splitlines()[0], args


def test_a_failed_condition_carries_its_clauses(small, mreg):
    run = mreg("promote", "sentiment@1.0.2", "--to", "production", "--json", "--if",
               "metrics.accuracy > @production.metrics.accuracy + 0.5", expect=1)
    condition = _error_document(run)["error"]["condition"]
    assert condition["result"] is False and condition["versions"] == {"production": "1.0.1"}
    assert condition["clauses"][0]["values"] == {"metrics.accuracy": 0.92, "@production.metrics.accuracy": 0.91}
    assert run.err.splitlines()[1] == "  metrics.accuracy 0.92 > @production.metrics.accuracy 0.91 + 0.5: false"


def test_a_syntax_error_s_hint_holds_the_caret(small, mreg):
    error = _error_document(mreg("search", "metrics.accuracy >", "--json", expect=2))["error"]
    assert error["hint"] == "metrics.accuracy >\n" + " " * 18 + "^"


def test_verify_gives_its_report_and_the_error_as_one_document(small, mreg):
    objects = [p for p in (small / ".mreg" / "objects").rglob("*") if p.is_file()]
    for path in objects:
        os.chmod(path, 0o644)
        path.write_bytes(b"rotten")
    doc = _error_document(mreg("verify", "--json", expect=3))
    assert doc["ok"] is False and doc["problems"] and doc["error"]["kind"] == "integrity"


def test_user_settings_json_counts_as_json(small, mreg, tmp_path):
    config = tmp_path / "settings"
    config.mkdir()
    (config / "config.toml").write_text("json = true\n")
    run = mreg("show", "nope@1.0.0", expect=1, env={"MREG_CONFIG_DIR": str(config)})
    assert _error_document(run)["error"]["kind"] == "refused"


@pytest.fixture
def held_lock(small):
    fd = os.open(small / ".mreg" / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield
    os.close(fd)


def test_busy_and_interrupted(small, mreg, held_lock):
    busy = mreg("promote", "sentiment@1.0.2", "--json", "--lock-timeout", "0", expect=4)
    assert _error_document(busy)["error"]["kind"] == "busy"
    # SIGTERM while waiting for the lock: exit 143, and the document says so.
    proc = subprocess.Popen([sys.executable, "-m", "mreg", "promote", "sentiment@1.0.2", "--json"], cwd=small,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # started and waiting on the lock
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)

    class Run:
        code, json = proc.returncode, None

    Run.out, Run.err = out, err
    assert proc.returncode == 143, err
    assert _error_document(Run)["error"] == {"code": 143, "kind": "interrupted", "message": "terminated",
                                             "hint": None}
