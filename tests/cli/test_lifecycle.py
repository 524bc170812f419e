"""transition, promote, rollback and the lifecycle table (SPEC §2), through the real CLI."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# The table of SPEC §2, written out here rather than imported, so that a change
# of the defaults in the code is caught.
SPEC_TABLE = {
    "development": {"testing", "archived"},
    "testing": {"development", "staging", "archived"},
    "staging": {"testing", "production", "archived"},
    "production": {"staging", "deprecated"},
    "deprecated": {"archived"},
    "archived": set(),
}
STAGES = list(SPEC_TABLE)
# How to reach each stage from development, one allowed move at a time.
ROUTE = {
    "development": [],
    "testing": ["testing"],
    "staging": ["testing", "staging"],
    "production": ["testing", "staging", "production"],
    "deprecated": ["testing", "staging", "production", "deprecated"],
    "archived": ["archived"],
}


def artifact(project: Path, text: str) -> str:
    path = project / f"{abs(hash(text))}.bin"
    path.write_text(text)
    return str(path)


def stage_of(registry, ref: str) -> str:
    return registry.show(ref)["stage"]


def put_in(registry, project: Path, name: str, stage: str) -> str:
    """Register a new version of `name` and walk it to `stage`; return its ref."""
    doc = registry.register(name, artifact(project, f"{name}-{time.monotonic_ns()}"))
    ref = f"{name}@{doc['version']}"
    for step in ROUTE[stage]:
        registry.transition(ref, step, reason="setup")
    assert stage_of(registry, ref) == stage
    return ref


def edit_config(project: Path, change) -> None:
    import tomli_w
    import tomllib

    path = project / ".mreg" / "config.toml"
    data = tomllib.loads(path.read_text())
    change(data)
    path.write_text(tomli_w.dumps(data))


def events(mreg, target: str) -> list[dict]:
    """History of `target`, oldest first."""
    return list(reversed(mreg("history", target, "--json").json))


# --- the transition table ---------------------------------------------------


def test_default_config_holds_the_spec_table(project):
    import tomllib

    data = tomllib.loads((project / ".mreg" / "config.toml").read_text())
    table = {k: set(v) for k, v in data["lifecycle"]["transitions"].items()}
    assert table == SPEC_TABLE
    assert data["lifecycle"]["initial"] == "development"
    assert data["lifecycle"]["promotion"] == ["development", "testing", "staging", "production"]
    assert data["lifecycle"]["exclusive"] == ["production"]


def test_every_pair_of_the_default_table(mreg, registry, project):
    """Every (from, to) pair: allowed ones move and are recorded, the rest are refused and change nothing."""
    problems = []
    for source in STAGES:
        for target in STAGES:
            name = f"m-{source}-{target}"
            ref = put_in(registry, project, name, source)
            before = len(registry.history(name))
            r = mreg("transition", ref, target, "--reason", "table test", "--json", expect=None)
            allowed = target in SPEC_TABLE[source]
            if allowed:
                if r.code != 0 or r.json["stage"] != target:
                    problems.append(f"{source}->{target} should be allowed: {r!r}")
                    continue
                last = registry.history(name, limit=1)[0]
                if (last["action"], last["from"], last["to"], last["reason"]) != ("transition", source, target, "table test"):
                    problems.append(f"{source}->{target} recorded {last}")
            else:
                if r.code != 1:
                    problems.append(f"{source}->{target} should be refused with exit 1: {r!r}")
                if r.out and r.json != {"error": {"code": 1, "kind": "refused", "message": r.err.splitlines()[0][13:],
                                                  "hint": r.json["error"]["hint"]}}:
                    # With --json, a refusal is the error document and nothing else.
                    problems.append(f"{source}->{target} printed on stdout when refused: {r.out!r}")
                if stage_of(registry, ref) != source:
                    problems.append(f"{source}->{target} changed the stage although refused")
                if len(registry.history(name)) != before:
                    problems.append(f"{source}->{target} recorded an event although refused")
                if source != target:
                    message = r.err.splitlines()[0]
                    allowed_text = ", ".join(t for t in STAGES if t in SPEC_TABLE[source]) or "nothing"
                    if allowed_text not in message:
                        problems.append(f"{source}->{target}: message does not list {allowed_text!r}: {message}")
    assert not problems, "\n".join(problems)


def test_refusal_message_lists_the_allowed_stages(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    r = mreg("transition", ref, "production", "--reason", "skip ahead", expect=1)
    first = r.err.splitlines()[0]
    assert first.startswith("mreg: error: ")
    assert "development" in first and "production" in first
    assert "testing, archived" in first
    assert stage_of(registry, ref) == "development"


def test_unknown_stage_is_a_usage_error(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    r = mreg("transition", ref, "prod", "--reason", "typo", expect=2)
    assert "prod" in r.err and "production" in r.err  # names the stages that exist
    assert stage_of(registry, ref) == "development"
    mreg("promote", ref, "--to", "nowhere", expect=2)
    assert stage_of(registry, ref) == "development"
    assert [e["action"] for e in registry.history("m")] == ["register"]


def test_transition_needs_an_explicit_version(mreg, registry, project):
    put_in(registry, project, "m", "development")
    mreg("transition", "m", "testing", expect=2)
    mreg("transition", "nosuch@1.0.0", "testing", expect=1)
    mreg("transition", "m@9.9.9", "testing", expect=1)


def test_a_user_can_widen_the_table_in_config(mreg, registry, project):
    old = put_in(registry, project, "m", "production")
    new = put_in(registry, project, "m", "development")
    mreg("transition", new, "production", "--reason", "hotfix", expect=1)

    edit_config(project, lambda c: c["lifecycle"]["transitions"]["development"].append("production"))
    r = mreg("transition", new, "production", "--reason", "hotfix", "--json")
    assert r.json["stage"] == "production"
    assert stage_of(registry.__class__(registry.layout), old) == "deprecated"  # exclusive still applies


def test_a_user_can_narrow_the_table_in_config(mreg, registry, project):
    ref = put_in(registry, project, "m", "testing")
    edit_config(project, lambda c: c["lifecycle"]["transitions"].update(testing=["archived"]))
    r = mreg("transition", ref, "staging", "--reason", "x", expect=1)
    assert "archived" in r.err.splitlines()[0]
    # promote follows the table too, and refuses before taking any step
    r = mreg("promote", ref, "--to", "production", "--reason", "x", expect=1)
    assert stage_of(registry, ref) == "testing"


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c["lifecycle"]["transitions"]["development"].append("qa"), "lifecycle.transitions.development"),
        (lambda c: c["lifecycle"]["transitions"].update(qa=["testing"]), "lifecycle.transitions.qa"),
        (lambda c: c["lifecycle"].update(promotion=["development", "testing", "development"]), "lifecycle.promotion"),
        (lambda c: c["lifecycle"].update(promotion=["development", "qa"]), "lifecycle.promotion"),
        (lambda c: c["lifecycle"].update(exclusive=["prod"]), "lifecycle.exclusive"),
        (lambda c: c["lifecycle"].update(initial="draft"), "lifecycle.initial"),
        (lambda c: c["lifecycle"].pop("transitions"), "lifecycle.transitions"),
        (lambda c: c["lifecycle"].pop("stages"), "lifecycle.stages"),
        (lambda c: c.pop("lifecycle"), "lifecycle"),
    ],
    ids=["unknown-target", "unknown-source", "promotion-cycle", "promotion-unknown", "exclusive-unknown",
         "initial-unknown", "no-transitions", "no-stages", "no-lifecycle"],
)
def test_an_invalid_lifecycle_is_one_clear_error(mreg, registry, project, change, key):
    ref = put_in(registry, project, "m", "development")
    edit_config(project, change)
    for args in (("transition", ref, "testing"), ("promote", ref), ("verify",)):
        r = mreg(*args, expect=3)
        lines = r.err.splitlines()
        assert lines[0].startswith(f"mreg: error: invalid config.toml: {key}:"), r.err
        assert len(lines) <= 2 and all(line.startswith(("mreg: error:", "hint:")) for line in lines)
        assert r.out == ""


# --- promote ----------------------------------------------------------------


def test_promote_one_step(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    r = mreg("promote", ref, "--reason", "looks good", "--json")
    assert r.json["stage"] == "testing" and r.json["version"] == "1.0.0"
    last = events(mreg, "m")[-1]
    assert (last["action"], last["from"], last["to"], last["reason"]) == ("promote", "development", "testing", "looks good")


def test_promote_to_records_each_step(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    mreg("promote", ref, "--to", "production", "--reason", "ship it")
    steps = [(e["action"], e["from"], e["to"], e["reason"]) for e in events(mreg, "m")[1:]]
    assert steps == [
        ("promote", "development", "testing", "ship it"),
        ("promote", "testing", "staging", "ship it"),
        ("promote", "staging", "production", "ship it"),
    ]
    assert mreg("show", "m@production", "--json").json["version"] == "1.0.0"


@pytest.mark.parametrize("stage, to", [("staging", "testing"), ("staging", "staging"), ("production", "staging"),
                                       ("production", None), ("deprecated", None), ("archived", "production")])
def test_promote_refuses_a_target_behind_or_off_the_path(mreg, registry, project, stage, to):
    ref = put_in(registry, project, "m", stage)
    count = len(registry.history("m"))
    args = ["promote", ref, "--reason", "x"] + (["--to", to] if to else [])
    r = mreg(*args, expect=1)
    assert r.out == ""
    assert stage_of(registry, ref) == stage
    assert len(registry.history("m")) == count


def test_promote_off_path_stage_is_refused(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    mreg("promote", ref, "--to", "deprecated", expect=1)
    assert stage_of(registry, ref) == "development"


# --- exclusive production ---------------------------------------------------


def test_entering_production_supersedes_the_previous_holder(mreg, registry, project):
    first = put_in(registry, project, "m", "production")
    second = put_in(registry, project, "m", "staging")
    other = put_in(registry, project, "other", "production")  # another model is not touched
    mreg("promote", second, "--reason", "better")
    assert stage_of(registry, first) == "deprecated"
    assert stage_of(registry, second) == "production"
    assert stage_of(registry, other) == "production"
    last_two = events(mreg, "m")[-2:]
    assert [(e["action"], e["version"], e["from"], e["to"]) for e in last_two] == [
        ("promote", "1.0.1", "staging", "production"),
        ("supersede", "1.0.0", "production", "deprecated"),
    ]
    assert last_two[1]["reason"] == "superseded by 1.0.1"
    assert mreg("list", "--json").json[0]["production"] == "1.0.1"


def test_transition_into_production_supersedes_too(mreg, registry, project):
    first = put_in(registry, project, "m", "production")
    second = put_in(registry, project, "m", "staging")
    mreg("transition", second, "production", "--reason", "manual")
    assert stage_of(registry, first) == "deprecated"
    assert events(mreg, "m")[-1]["action"] == "supersede"


def test_concurrent_promotes_leave_one_production_version(mreg, registry, project):
    count = 6
    refs = [put_in(registry, project, "m", "staging") for _ in range(count)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "mreg", "promote", ref, "--reason", f"race {i}", "--json"],
                         cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i, ref in enumerate(refs)
    ]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    stages = [stage_of(registry, ref) for ref in refs]
    assert stages.count("production") == 1 and stages.count("deprecated") == count - 1
    history = registry.history("m")
    assert sum(1 for e in history if e["action"] == "promote" and e["to"] == "production") == count
    assert sum(1 for e in history if e["action"] == "supersede") == count - 1
    # The one left in production is the one promoted last.
    newest_promote = next(e for e in history if e["action"] == "promote")
    assert stage_of(registry, f"m@{newest_promote['version']}") == "production"
    mreg("verify")


# --- rollback ---------------------------------------------------------------


def three_releases(mreg, registry, project) -> list[str]:
    refs = [put_in(registry, project, "m", "staging") for _ in range(3)]
    for ref in refs:
        mreg("promote", ref, "--reason", "release")
    return refs


def test_rollback_walks_back_through_earlier_releases(mreg, registry, project):
    a, b, c = three_releases(mreg, registry, project)
    r = mreg("rollback", "m", "--reason", "latency", "--json")
    assert r.json["version"] == "1.0.1" and r.json["stage"] == "production"
    assert [stage_of(registry, x) for x in (a, b, c)] == ["deprecated", "production", "deprecated"]
    rolled = events(mreg, "m")[-2:]
    assert [(e["action"], e["version"], e["from"], e["to"], e["reason"]) for e in rolled] == [
        ("rollback", "1.0.2", "production", "deprecated", "latency"),
        ("rollback", "1.0.1", "deprecated", "production", "latency"),
    ]
    r = mreg("rollback", "m", "--reason", "still bad", "--json")
    assert r.json["version"] == "1.0.0"
    assert [stage_of(registry, x) for x in (a, b, c)] == ["production", "deprecated", "deprecated"]
    r = mreg("rollback", "m", "--reason", "nothing left", expect=1)
    assert "no earlier production version" in r.err
    assert stage_of(registry, a) == "production"
    mreg("verify")


def test_rollback_to_an_explicit_version(mreg, registry, project):
    a, b, c = three_releases(mreg, registry, project)
    mreg("rollback", "m", "--to", "v1.0.0", "--reason", "back to the first")
    assert [stage_of(registry, x) for x in (a, b, c)] == ["production", "deprecated", "deprecated"]
    # 1.0.2 was in production after 1.0.0: returning to it is allowed (undoing a rollback) ...
    mreg("rollback", "m", "--to", "1.0.2", "--reason", "that was a mistake")
    assert [stage_of(registry, x) for x in (a, b, c)] == ["deprecated", "deprecated", "production"]
    # ... and the next plain rollback goes back to where we came from.
    assert mreg("rollback", "m", "--reason", "again", "--json").json["version"] == "1.0.0"


def test_rollback_refusals_change_nothing(mreg, registry, project):
    put_in(registry, project, "m", "production")
    never = put_in(registry, project, "m", "staging")
    count = len(registry.history("m"))
    r = mreg("rollback", "m", "--reason", "x", expect=1)  # no earlier production version
    assert "no earlier" in r.err
    r = mreg("rollback", "m", "--to", "1.0.1", "--reason", "x", expect=1)  # never in production
    assert "1.0.1" in r.err and "never" in r.err
    mreg("rollback", "m", "--to", "1.0.0", "--reason", "x", expect=1)  # the current holder
    mreg("rollback", "m", "--to", "7.0.0", "--reason", "x", expect=1)
    mreg("rollback", "m", "--to", "not-a-version", expect=2)
    mreg("rollback", "m@1.0.0", expect=2)
    mreg("rollback", "nosuch", expect=1)
    assert stage_of(registry, "m@1.0.0") == "production" and stage_of(registry, never) == "staging"
    assert len(registry.history("m")) == count
    # no version in production at all
    put_in(registry, project, "empty", "staging")
    mreg("rollback", "empty", "--reason", "x", expect=1)


def test_rollback_skips_removed_and_archived_releases(mreg, registry, project):
    a, b, c = three_releases(mreg, registry, project)
    mreg("rm", b, "--reason", "leaked data")
    mreg("transition", a, "archived", "--reason", "old")
    r = mreg("rollback", "m", "--reason", "x", expect=1)
    assert "no earlier" in r.err
    mreg("rollback", "m", "--to", "1.0.1", expect=1)


def test_rollback_to_says_why_and_which_versions_can_be_rolled_back_to(mreg, registry, project):
    # production went 1.0.0 -> 1.0.1 -> rollback -> 1.0.3 -> rollback.
    a, b, _, d = (put_in(registry, project, "m", "staging") for _ in range(4))
    mreg("promote", a, "--reason", "x")
    mreg("promote", b, "--reason", "x")
    mreg("rollback", "m", "--reason", "x")
    mreg("promote", d, "--reason", "x")
    mreg("rollback", "m", "--reason", "x")
    count = len(registry.history("m"))

    def refused(to: str) -> list[str]:
        return mreg("rollback", "m", "--to", to, "--reason", "x", expect=1).err.splitlines()

    can = "hint: versions m can be rolled back to: 1.0.3, 1.0.1"
    assert refused("1.0.0") == ["mreg: error: cannot roll back to 1.0.0: m@1.0.0 is the current production version", can]
    assert refused("1.0.2") == ["mreg: error: cannot roll back to 1.0.2: m@1.0.2 has never been in production", can]
    assert refused("9.0.0") == ["mreg: error: cannot roll back to 9.0.0: m@9.0.0 does not exist", can]
    mreg("transition", b, "archived", "--reason", "old")
    assert refused("1.0.1") == ["mreg: error: cannot roll back to 1.0.1: m@1.0.1 is archived",
                                "hint: versions m can be rolled back to: 1.0.3"]
    mreg("rm", d, "--reason", "leaked")
    assert refused("1.0.3") == ["mreg: error: cannot roll back to 1.0.3: m@1.0.3 was removed",
                                "hint: versions m can be rolled back to: none"]
    assert stage_of(registry, a) == "production"
    assert len(registry.history("m")) == count + 2  # the archive and the rm, nothing from the refusals


def test_a_refused_transition_on_the_promotion_path_hints_promote(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    r = mreg("transition", ref, "production", "--reason", "skip ahead", expect=1)
    assert r.err.splitlines()[1] == f"hint: use `mreg promote {ref} --to production` to walk the promotion path"
    # Off the path, the hint stays the one about the table.
    r = mreg("transition", put_in(registry, project, "m", "archived"), "deprecated", expect=1)
    assert "promote" not in r.err and "[lifecycle.transitions]" in r.err


# --- output and locking ---------------------------------------------------


def test_quiet_prints_nothing_and_plain_output_is_one_line(mreg, registry, project):
    ref = put_in(registry, project, "m", "development")
    r = mreg("promote", ref, "-q", "--reason", "x")
    assert r.out == "" and r.err == ""
    r = mreg("transition", ref, "staging", "--reason", "x")
    assert r.out == "moved m@1.0.0 (staging)\n"
    r = mreg("promote", ref, "--reason", "x")
    assert r.out == "promoted m@1.0.0 (production)\n"
    put_in(registry, project, "m", "staging")
    mreg("promote", "m@1.0.1", "-q")
    r = mreg("rollback", "m", "-q", "--reason", "x")
    assert r.out == "" and r.err == ""
    assert stage_of(registry, ref) == "production"


HOLDER = textwrap.dedent("""
    import sys, time
    from mreg.core.layout import find_registry
    from mreg.core.lock import RegistryLock
    layout = find_registry(sys.argv[1])
    lock = RegistryLock(layout.lock, layout.lock_info)   # an flock on .mreg/lock, as any writer takes it
    lock.acquire(5)
    print("held", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def hold_lock(project):
    """Start a process that holds the registry lock; return it (killed at the end)."""
    procs = []

    def start():
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_lock_timeout_names_the_holder(mreg, registry, project, hold_lock):
    ref = put_in(registry, project, "m", "staging")
    put_in(registry, project, "m", "production")
    holder = hold_lock()
    for args in (("transition", ref, "testing"), ("promote", ref), ("rollback", "m"),
                 ("update", ref, "-m", "x=1")):
        started = time.monotonic()
        r = mreg(*args, "--lock-timeout", "0.5", "--reason", "x", expect=4)
        assert time.monotonic() - started < 10
        assert f"pid {holder.pid}" in r.err.splitlines()[0], r.err
    assert stage_of(registry, ref) == "staging"
    holder.kill()
    holder.wait()
    mreg("promote", ref, "--lock-timeout", "5", "--reason", "free now")


def test_rollback_after_the_production_version_was_removed_puts_the_one_before_back(mreg, registry, project):
    # Otherwise the version the removed one superseded is stuck in deprecated,
    # from which the table allows only archived.
    a, b, c = three_releases(mreg, registry, project)
    mreg("rm", c, "--force", "--reason", "leaked data")
    r = mreg("rollback", "m", "--reason", "restore", "--json")
    assert r.json["version"] == b.split("@")[1] and r.json["stage"] == "production"
    (event,) = [e for e in registry.history("m", limit=1)]
    assert (event["action"], event["version"], event["from"], event["to"]) == ("rollback", "1.0.1", "deprecated",
                                                                              "production")
    mreg("rm", b, "--force")
    assert mreg("rollback", "m", "--to", "1.0.0", "--reason", "x", "--json").json["stage"] == "production"
    put_in(registry, project, "m", "development")
    mreg("rm", a, "--force")
    assert "no earlier" in mreg("rollback", "m", "--reason", "x", expect=1).err
    mreg("verify")
