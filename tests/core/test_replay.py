"""Replaying a model's history rebuilds its index exactly.

Random sequences of operations (seeded, so a failure names its seed) run
in-process through the Python API; after each sequence every model's index
is rebuilt from its history and compared field by field with the stored one,
and `verify(rebuild_index=True)` agrees. MREG_FULL=1 runs more and longer
sequences.
"""

from __future__ import annotations

import json
import os
import random

import pytest

import mreg
from mreg.core.history import read_events
from mreg.core.replay import NotReplayable, differences, rebuild
from mreg.errors import MregError

FULL = os.environ.get("MREG_FULL") == "1"
SEQUENCES = 200 if FULL else 24
STEPS = 60 if FULL else 24
NAMES = ("alpha", "team/beta")
ENVS = ("prod", "canary-eu")
ALIASES = ("champion", "challenger", "shadow")


def _artifact(rng: random.Random, where: str, step: int) -> str:
    """A new file or directory with random bytes (sometimes the same bytes again)."""
    path = os.path.join(where, f"a{step}")
    payload = lambda: bytes(rng.choice(b"abc") for _ in range(rng.randint(0, 5)))  # noqa: E731
    if rng.random() < 0.3:
        os.makedirs(os.path.join(path, "sub"))
        for index in range(rng.randint(1, 3)):
            with open(os.path.join(path, "sub" if index % 2 else "", f"f{index}"), "wb") as handle:
                handle.write(payload())
    else:
        with open(path, "wb") as handle:
            handle.write(payload())
    return path


def _metadata(rng: random.Random) -> dict:
    return {
        "metrics": {k: rng.choice([0.5, 1, 0.25]) for k in rng.sample(["acc", "f1", "loss"], rng.randint(0, 2))},
        "params": {k: rng.choice([1, "x", True]) for k in rng.sample(["lr", "depth"], rng.randint(0, 2))},
        "tags": {k: rng.choice(["a", "b"]) for k in rng.sample(["team", "owner"], rng.randint(0, 2))},
    }


def _versions(registry, name: str) -> list[str]:
    try:
        return [d["version"] for d in registry.versions(name)]
    except MregError:
        return []


def _version(registry, rng: random.Random, name: str) -> str:
    """An existing version, a removed or absent one now and then (refused, changing nothing)."""
    versions = _versions(registry, name)
    return rng.choice(versions) if versions and rng.random() < 0.9 else rng.choice(["1.0.0", "1.0.3", "2.0.0"])


def _step(registry, rng: random.Random, where: str, step: int) -> None:
    name = rng.choice(NAMES)
    stages = list(registry.lifecycle.stages)
    op = rng.choices(["register", "update", "transition", "promote", "rollback", "rm", "rm_all", "gc",
                      "deploy", "undeploy", "split", "rollback_split", "alias", "unalias"],
                     weights=[5, 3, 6, 3, 3, 2, 0.3, 1.5, 4, 1.5, 1, 1, 4, 1])[0]
    ref = f"{name}@{_version(registry, rng, name)}"
    if op in ("rm", "update", "transition", "promote") and rng.random() < 0.2:
        ref = f"{name}@{rng.choice(ALIASES)}"  # through an alias (refused where it is not set)
    if not _versions(registry, name) and rng.random() < 0.9:
        op = "register"  # a model with no versions refuses everything else
    if op == "register":
        stage = rng.choice([None, None, "staging", "production"])
        registry.register(name, _artifact(rng, where, step), description=rng.choice([None, "first try"]),
                          stage=stage, reason=rng.choice(["", "why not"]), **_metadata(rng))
    elif op == "update":
        changes = _metadata(rng)
        try:
            held = registry.show(ref)
        except MregError:
            held = {}
        # Mostly keys the version has (unsetting one it lacks is refused).
        present = [f"{g}.{k}" for g in ("metrics", "params", "tags") for k in held.get(g, {})]
        unset = rng.sample(present, min(len(present), rng.randint(0, 2)))
        changes = {g: v for g, v in changes.items() if not any(u.startswith(g + ".") for u in unset)}
        registry.update(ref, description=rng.choice([None, "", "better"]), unset=unset, **changes)
    elif op == "transition":
        # Mostly a move the table allows, so that versions reach the archive and gc removes them.
        try:
            allowed = registry.lifecycle.transitions.get(registry.show(ref)["stage"], ())
        except MregError:
            allowed = ()
        target = rng.choice(list(allowed)) if allowed and rng.random() < 0.85 else rng.choice(stages)
        registry.transition(ref, target, reason=rng.choice(["", "moving"]))
    elif op == "promote":
        registry.promote(ref, to=rng.choice([None, "production"]))
    elif op == "rollback":
        registry.rollback(name, to=rng.choice([None, None, _version(registry, rng, name)]))
    elif op == "rm":
        registry.remove(ref, force=rng.random() < 0.5)
    elif op == "rm_all":
        registry.remove(name, all_versions=True, force=True)
    elif op == "deploy":
        registry.deploy(ref, rng.choice(ENVS), traffic=rng.choice([None, 100, 50, 10, 1]),
                        reason=rng.choice(["", "canary"]))
    elif op == "undeploy":
        registry.undeploy(ref, rng.choice(ENVS))
    elif op == "split":
        versions = _versions(registry, name) or ["1.0.0"]
        first, second = rng.sample(versions, 2) if len(versions) > 1 else (versions[0], "1.0.3")
        share = rng.randint(1, 99)
        registry.deploy(name, rng.choice(ENVS), split={first: share, second: 100 - share})
    elif op == "rollback_split":
        registry.deploy(name, rng.choice(ENVS), rollback=True)
    elif op == "alias":
        # A move, a new alias, the same version again (nothing recorded), or an absent version (refused).
        registry.alias(rng.choice([ref, f"{name}@latest", f"{name}@{rng.choice(ALIASES)}"]), rng.choice(ALIASES),
                       reason=rng.choice(["", "won the A/B test"]))
    elif op == "unalias":
        registry.unalias(name, rng.choice(ALIASES), reason=rng.choice(["", "retired"]))
    else:
        # A forced rm or gc of a serving version takes it out of service first, recorded.
        registry.gc(archived_older_than="0s")


DEPLOYED: list[bool] = []


def _assert_replays(registry, seed: int) -> None:
    for name in registry.model_names():
        with open(registry.layout.index_path(name), "rb") as handle:
            stored = json.load(handle)
        meta = stored["history"]
        events = read_events(registry.layout.history_path(name), meta["events"], meta["head"], name)
        rebuilt = rebuild(name, events)
        # Each event keeps the state it recorded, not what the same transaction did next
        # (register --stage promotes the record it registered).
        assert all(e["details"]["record"]["stage"] == registry.lifecycle.initial
                   for e in events if e["action"] == "register"), f"seed {seed}, model {name}"
        assert differences(stored, rebuilt) == [], f"seed {seed}, model {name}"
        assert rebuilt == stored, f"seed {seed}, model {name}"
    report = registry.verify(rebuild_index=True)
    assert report["ok"], (seed, report["problems"])


@pytest.mark.parametrize("seed", range(SEQUENCES))
def test_replaying_the_history_rebuilds_every_index(tmp_path, seed):
    _sequence(tmp_path, seed)


def _sequence(tmp_path, seed: int):
    """Run the random sequence `seed`, check that every index replays, return the registry."""
    rng = random.Random(seed)
    registry = mreg.init(str(tmp_path / "project"))
    where = str(tmp_path / "artifacts")
    os.makedirs(where)
    for step in range(STEPS):
        try:
            _step(registry, rng, where, step)
        except MregError:
            pass  # a refusal changes nothing, which the replay checks too
    assert registry.model_names(), f"seed {seed} registered nothing"
    DEPLOYED.append(bool(registry.deployments()))
    _assert_replays(registry, seed)
    return registry


def test_the_random_sequences_move_aliases_and_remove_held_versions(tmp_path):
    # The sequences above reach what they are meant to test: alias events, and
    # removals by rm --force of versions an alias held (their drops recorded).
    actions, drops = set(), 0
    for seed in range(12):
        registry = _sequence(tmp_path / str(seed), seed)
        for event in registry.history():
            actions.add(event["action"])
            drops += event["action"] == "alias" and event["reason"] == "removed with the version"
    assert {"alias", "rm", "gc"} <= actions and drops


def test_the_sequences_leave_traffic_somewhere():
    # Run after the sequences (file order): the replay above covered deployments, not only stages.
    assert DEPLOYED and any(DEPLOYED)


def test_an_index_that_differs_from_its_history_is_a_verify_problem(tmp_path):
    registry = mreg.init(str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"model")
    registry.register("m", str(tmp_path / "m.bin"), stage="production")
    path = registry.layout.index_path("m")
    with open(path) as handle:
        stored = json.load(handle)
    stored["versions"]["1.0.0"]["tags"] = {"edited": "by hand"}
    stored["released"] = []
    with open(path, "w") as handle:
        json.dump(stored, handle)
    assert registry.verify()["ok"]  # nothing a plain verify checks
    report = registry.verify(rebuild_index=True)
    assert not report["ok"]
    [problem] = report["problems"]
    assert "released" in problem["problem"] and "versions.1.0.0.tags.edited" in problem["problem"]
    assert problem["versions"] == ["m@*"]


def test_an_old_history_is_reported_not_replayable(tmp_path):
    """A register event of an earlier mreg records only digest, size and kind."""
    registry = mreg.init(str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"model")
    registry.register("m", str(tmp_path / "m.bin"))
    meta = registry.model("m")["history"]
    [event] = read_events(registry.layout.history_path("m"), meta["events"], meta["head"], "m")
    old = dict(event, details={k: event["details"][k] for k in ("digest", "size", "kind")})
    with pytest.raises(NotReplayable, match="register"):
        rebuild("m", [old])


def test_a_registry_of_an_earlier_mreg_verifies_and_is_reported_not_replayable(tmp_path):
    """Old events (smaller details) still load and verify; only the rebuild says it cannot replay them."""
    from mreg.core import history
    from mreg.core.index import save_model

    registry = mreg.init(str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"model")
    registry.register("m", str(tmp_path / "m.bin"), stage="production")
    model = registry.model("m")
    meta = model["history"]
    events, prev = [], history.GENESIS
    for event in read_events(registry.layout.history_path("m"), meta["events"], meta["head"], "m"):
        body = {k: v for k, v in event.items() if k not in ("seq", "prev", "hash")}
        body["details"] = {k: v for k, v in event["details"].items() if k in ("digest", "size", "kind", "by")}
        events.append(history.seal(body, prev, event["seq"]))
        prev = events[-1]["hash"]
    data = b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in events)
    with open(registry.layout.history_path("m"), "wb") as handle:
        handle.write(data)
    model["history"] = {"events": len(events), "bytes": len(data), "head": prev}
    save_model(registry.layout, model)
    assert registry.verify()["ok"]
    assert [e["action"] for e in registry.history("m")] == ["promote", "promote", "promote", "register"]
    [problem] = registry.verify(rebuild_index=True)["problems"]
    assert problem["problem"].startswith("not replayable: event 1 (register)"), problem


POLICY = """
[policy]
admins = ["root@example.com"]

[policy.stages.staging]
approvals = 1

[policy.stages.production]
approvals = 2
approvers = ["alice@example.com", "bob@example.com", "carol@example.com"]
expire = "3d"
"""
USERS = ("alice@example.com", "bob@example.com", "carol@example.com", "root@example.com")


def _approval_step(registry, rng: random.Random, step: int) -> None:
    name = rng.choice(NAMES)
    ref = f"{name}@{_version(registry, rng, name)}"
    op = rng.choice(["approve", "approve", "reject", "override"])
    stage = rng.choice(["staging", "production", "production", "testing"])
    if op == "override":
        registry.promote(ref, to=rng.choice([None, "production"]), reason=rng.choice(["", "hotfix"]), override=True)
    elif op == "approve":
        registry.approve(ref, stage=stage, reason=rng.choice(["", "fine"]))
    else:
        registry.reject(ref, stage=stage, reason=rng.choice(["", "not yet"]))


@pytest.mark.parametrize("seed", range(SEQUENCES // 2))
def test_replaying_approvals_rebuilds_every_index(tmp_path, monkeypatch, seed):
    """The same, in a registry whose staging and production take approvals, with several users and a clock
    that moves on (approvals expire); approve, reject, void and override events are replayed."""
    rng = random.Random(seed)
    root = str(tmp_path / "project")
    mreg.init(root)
    with open(os.path.join(root, ".mreg", "config.toml"), "a") as handle:
        handle.write(POLICY)
    where = str(tmp_path / "artifacts")
    os.makedirs(where)
    hours = 0
    for step in range(STEPS * 2):
        hours += rng.randint(0, 30)
        monkeypatch.setenv("MREG_NOW", f"2026-01-{1 + hours // 24:02d}T{hours % 24:02d}:00Z")
        monkeypatch.setenv("MREG_USER", rng.choice(USERS))
        registry = mreg.open(root)  # the user is read once per registry, as once per command
        try:
            if rng.random() < 0.5:
                _step(registry, rng, where, step)
            else:
                _approval_step(registry, rng, step)
        except MregError:
            pass
    registry = mreg.open(root)
    actions = {e["action"] for name in registry.model_names() for e in registry.history(name)}
    assert "approve" in actions, f"seed {seed}: {actions}"
    _assert_replays(registry, seed)
