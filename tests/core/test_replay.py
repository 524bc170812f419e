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
    op = rng.choices(["register", "update", "transition", "promote", "rollback", "rm", "rm_all", "gc", "alias",
                      "unalias"], weights=[5, 3, 6, 3, 3, 2, 0.3, 1.5, 4, 1])[0]
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
    elif op == "alias":
        # A move, a new alias, the same version again (nothing recorded), or an absent version (refused).
        registry.alias(rng.choice([ref, f"{name}@latest", f"{name}@{rng.choice(ALIASES)}"]), rng.choice(ALIASES),
                       reason=rng.choice(["", "won the A/B test"]))
    elif op == "unalias":
        registry.unalias(name, rng.choice(ALIASES), reason=rng.choice(["", "retired"]))
    else:
        registry.gc(archived_older_than="0s")


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
    _assert_replays(registry, seed)
    return registry


def test_the_random_sequences_move_aliases_and_remove_held_versions(tmp_path):
    # The sequences above reach what they are meant to test: alias events, and
    # removals by rm --force of versions an alias held (their drops recorded).
    actions, drops = set(), 0
    for seed in range(6):
        registry = _sequence(tmp_path / str(seed), seed)
        for event in registry.history():
            actions.add(event["action"])
            drops += event["action"] == "alias" and event["reason"] == "removed with the version"
    assert {"alias", "rm", "gc"} <= actions and drops


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
