"""Conditional moves (`promote --if`, `transition --if`, `mreg check`) and `register --if-changed`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mregtest import Mreg

GATE = "metrics.auc > @production.metrics.auc"


@pytest.fixture
def champion(mreg, project, registry):
    """cls 1.0.0 in production (auc 0.90); 1.0.1 (auc 0.88) and 1.0.2 (auc 0.95) in staging."""
    for i, auc in enumerate((0.90, 0.88, 0.95)):
        (project / f"m{i}.bin").write_bytes(f"weights {i}".encode())
        registry.register("cls", str(project / f"m{i}.bin"), metrics=[f"auc={auc}"])
        registry.promote(f"cls@1.0.{i}", "production" if i == 0 else "staging")
    return registry


def _state(project) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (project / ".mreg" / "models").rglob("*") if p.is_file()}


def test_a_false_condition_moves_nothing_and_shows_each_clause(mreg, project, champion):
    before = _state(project)
    r = mreg("promote", "cls@1.0.1", "--to", "production", "--if", GATE + " and metrics.auc > 0.5", expect=1)
    lines = r.err.splitlines()
    assert lines[0] == f"mreg: error: condition not met for cls@1.0.1: {GATE} and metrics.auc > 0.5 is false"
    assert lines[1:] == ["  metrics.auc 0.88 > @production.metrics.auc 0.9: false",
                         "  metrics.auc 0.88 > 0.5: true"]
    assert r.out == "" and _state(project) == before
    # transition takes the same condition.
    r = mreg("transition", "cls@1.0.1", "production", "--if", GATE, expect=1)
    assert r.err.splitlines()[1] == "  metrics.auc 0.88 > @production.metrics.auc 0.9: false"
    assert _state(project) == before


def test_a_true_condition_moves_and_is_recorded(mreg, project, champion):
    doc = mreg("promote", "cls@1.0.2", "--to", "production", "--if", GATE, "--reason", "better", "--json").json
    assert doc["stage"] == "production"
    promote, supersede = [e for e in champion.history("cls", limit=2)][::-1]
    assert (promote["action"], promote["version"], supersede["action"], supersede["version"]) == \
        ("promote", "1.0.2", "supersede", "1.0.0")
    condition = promote["details"]["condition"]
    assert condition["condition"] == GATE and condition["result"] is True and condition["passed"] is True
    assert condition["versions"] == {"production": "1.0.0"}
    assert condition["clauses"][0]["values"] == {"metrics.auc": 0.95, "@production.metrics.auc": 0.9}
    # Replay ignores it: the index rebuilt from the history is the stored one.
    assert mreg("verify", "--rebuild-index", "--json").json["ok"] is True
    # A transition records it too.
    mreg("transition", "cls@1.0.1", "testing", "--if", "version < @latest.version")
    assert champion.history("cls", limit=1)[0]["details"]["condition"]["result"] is True


def test_unknown_fails_unless_if_missing_pass(mreg, project):
    (project / "m.bin").write_bytes(b"first")
    mreg("register", "cls", "m.bin", "-m", "auc=0.7", "-q")
    before = _state(project)
    r = mreg("promote", "cls@latest", "--to", "production", "--if", GATE, expect=1)
    assert r.err.splitlines()[:2] == [
        f"mreg: error: condition not met for cls@1.0.0: {GATE} is unknown",
        "  metrics.auc 0.7 > @production.metrics.auc (none: cls has no version in production): unknown"]
    assert "--if-missing pass" in r.err.splitlines()[2]
    assert _state(project) == before
    mreg("promote", "cls@latest", "--to", "production", "--if", GATE, "--if-missing", "pass", "-q")
    assert mreg("show", "cls@production", "--json").json["version"] == "1.0.0"
    assert mreg("check", "cls@1.0.0", "metrics.f1 > 0", "--if-missing", "pass").out.splitlines()[0] == \
        "cls@1.0.0: metrics.f1 > 0 is unknown (passes: --if-missing pass)"
    # pass lets only unknown through: a false condition still fails.
    r = mreg("check", "cls@1.0.0", "metrics.auc > 0.8", "--if-missing", "pass", expect=1)
    assert "is false" in r.err


def test_bad_conditions_are_usage_errors_with_a_caret(mreg, project, champion):
    before = _state(project)
    for args, words in [
        (["promote", "cls@1.0.2", "--to", "production", "--if", "metrics.auc >"], "expected a field or a value"),
        (["transition", "cls@1.0.2", "production", "--if", "metrics.auc > @other/model.metrics.auc"], "another model"),
        (["check", "cls@1.0.2", "tags.team * 2 > 1"], "arithmetic on text"),
        (["promote", "cls@1.0.2", "--if", GATE, "--if-missing", "maybe"], "invalid --if-missing 'maybe'"),
        (["transition", "cls@1.0.2", "production", "--if-missing", "maybe"], "invalid --if-missing 'maybe'"),
    ]:
        r = mreg(*args, expect=2)
        assert r.err.startswith("mreg: error: ") and words in r.err, r
        assert "Traceback" not in r.err
    r = mreg("check", "cls@1.0.2", "metrics.auc > 0.9 and", expect=2)
    assert r.err.splitlines()[1:] == ["hint: metrics.auc > 0.9 and", "hint: " + " " * 21 + "^"]
    assert _state(project) == before


def test_check(mreg, champion):
    r = mreg("check", "cls@1.0.2", GATE + " and size < @production.size * 1.5")
    assert r.out.splitlines() == [f"cls@1.0.2: {GATE} and size < @production.size * 1.5 is true",
                                  "  metrics.auc 0.95 > @production.metrics.auc 0.9: true",
                                  "  size 9 < @production.size 9 * 1.5: true"]
    doc = mreg("check", "cls@staging", GATE, "--json").json
    assert (doc["version"], doc["result"], doc["passed"]) == ("1.0.2", True, True)
    assert doc["clauses"] == [{"clause": GATE, "values": {"metrics.auc": 0.95, "@production.metrics.auc": 0.9},
                               "result": True, "line": "metrics.auc 0.95 > @production.metrics.auc 0.9: true"}]
    assert mreg("check", "cls", GATE, "-q").out == ""  # a bare name is its latest version
    failed = mreg("check", "cls@1.0.1", GATE, "--json", expect=1)
    error = failed.json["error"]
    assert (error["code"], error["kind"]) == (1, "refused")
    assert error["condition"]["result"] is False and error["condition"]["clauses"][0]["values"] == \
        {"metrics.auc": 0.88, "@production.metrics.auc": 0.9}
    # The Python API returns the same document, without raising.
    assert champion.check("cls@1.0.1", GATE)["passed"] is False
    assert champion.check("cls@1.0.1", "metrics.auc > @testing.metrics.auc", if_missing="pass")["passed"] is True


def test_the_python_api_refuses_a_false_condition(champion):
    from mreg.errors import ConditionFailed

    with pytest.raises(ConditionFailed) as caught:
        champion.promote("cls@1.0.1", "production", condition=GATE)
    assert caught.value.exit_code == 1 and champion.show("cls@production")["version"] == "1.0.0"
    assert champion.promote("cls@1.0.2", "production", condition=GATE)["stage"] == "production"


RACERS = 8


def test_racing_conditional_promotions_keep_the_best(project, registry):
    """8 processes promote 8 challengers at once, each only if better than production then."""
    (project / "base.bin").write_bytes(b"base")
    registry.register("cls", str(project / "base.bin"), metrics=["auc=0.5"])
    registry.promote("cls@1.0.0", "production")
    aucs = {}
    for i, auc in enumerate([0.61, 0.93, 0.72, 0.55, 0.88, 0.97, 0.66, 0.81][:RACERS]):
        (project / f"c{i}.bin").write_bytes(f"challenger {i}".encode())
        doc = registry.register("cls", str(project / f"c{i}.bin"), metrics=[f"auc={auc}"])
        registry.promote(f"cls@{doc['version']}", "staging")
        aucs[doc["version"]] = auc
    aucs["1.0.0"] = 0.5
    procs = [subprocess.Popen([sys.executable, "-m", "mreg", "promote", f"cls@{version}", "--to", "production",
                               "--if", GATE], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for version in list(aucs)[:-1]]
    runs = [(proc.wait(timeout=120), proc.stderr.read()) for proc in procs]
    assert all(code in (0, 1) for code, _ in runs), runs
    assert all("condition not met" in err for code, err in runs if code == 1), runs
    moved = sum(1 for code, _ in runs if code == 0)
    assert moved >= 1
    assert registry.show("cls@production")["version"] == max(aucs, key=aucs.get)
    # Every move into production superseded the holder its condition read, and beat it.
    events = registry.history("cls", actions=["promote", "supersede"])[::-1]
    into = [e for e in events if e["action"] == "promote" and e["to"] == "production" and e["details"].get("condition")]
    superseded = [e for e in events if e["action"] == "supersede"]
    assert len(into) == moved and len(superseded) == moved
    holder = "1.0.0"
    for promote, supersede in zip(into, superseded):
        seen = promote["details"]["condition"]
        assert seen["versions"] == {"production": holder} and supersede["version"] == holder
        assert seen["clauses"][0]["values"]["@production.metrics.auc"] == aucs[holder] < aucs[promote["version"]]
        holder = promote["version"]
    assert Mreg(project)("verify", "--rebuild-index", "--json").json["ok"]


def test_register_if_changed(mreg, project):
    (project / "m.bin").write_bytes(b"weights")
    first = mreg("register", "cls", "m.bin", "--if-changed", "--json").json
    assert (first["version"], first["created"]) == ("1.0.0", True)
    again = mreg("register", "cls", "m.bin", "--if-changed", "--json").json
    assert (again["version"], again["created"]) == ("1.0.0", False)
    assert again["digest"] == first["digest"]
    r = mreg("register", "cls", "m.bin", "--if-changed")
    assert r.out.startswith("unchanged: cls@1.0.0 (development, file, 7 B) sha256:")
    assert [e["action"] for e in mreg("history", "cls", "--json").json] == ["register"]
    # Other bytes, or no --if-changed: a new version.
    assert "created" not in mreg("register", "cls", "m.bin", "--json").json
    (project / "m.bin").write_bytes(b"weights 2")
    assert mreg("register", "cls", "m.bin", "--if-changed", "--json").json["version"] == "1.0.2"
    # The same bytes under another model are that model's first version.
    assert mreg("register", "other", "m.bin", "--if-changed", "--json").json["created"] is True
    # A directory too; and the newest version holding the bytes is the one returned.
    (project / "d").mkdir()
    (project / "d" / "a.txt").write_text("a")
    assert mreg("register", "dir", "d", "--json").json["version"] == "1.0.0"
    mreg("register", "dir", "d", "-q")
    doc = mreg("register", "dir", "d", "--if-changed", "--json").json
    assert (doc["version"], doc["created"]) == ("1.0.1", False)


def test_concurrent_if_changed_registers_make_one_version(project):
    (project / "m.bin").write_bytes(b"same bytes")
    procs = [subprocess.Popen([sys.executable, "-m", "mreg", "register", "cls", "m.bin", "--if-changed", "--json"],
                              cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    docs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        docs.append(json.loads(out))
    assert {d["version"] for d in docs} == {"1.0.0"}
    assert sorted(d["created"] for d in docs) == [False, False, False, True]
    assert len(Mreg(project)("show", "cls", "--json").json) == 1
