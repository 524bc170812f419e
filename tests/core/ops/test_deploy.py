"""deploy, undeploy and deployments through the Python API: the rules, the events, rollback and the past."""

from __future__ import annotations

import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mreg
from mreg.core.history import read_events
from mreg.core.holds import holds
from mreg.core.replay import differences, rebuild
from mreg.errors import NotFoundError, RefusedError, UsageError


def _registry_with(folder: str, versions: int = 4):
    reg = mreg.init(os.path.join(folder, "project"))
    for i in range(versions):
        path = os.path.join(folder, f"m{i}.bin")
        with open(path, "wb") as handle:
            handle.write(f"weights {i}".encode())
        reg.register("m", path)
    return reg


def _events(reg, name="m"):
    from mreg.core.index import load_model

    meta = load_model(reg.layout, name)["history"]
    return read_events(reg.layout.history_path(name), meta["events"], meta["head"], name)


def _replays(reg, name="m"):
    with open(reg.layout.index_path(name), "rb") as handle:
        stored = json.load(handle)
    assert differences(stored, rebuild(name, _events(reg, name))) == []


@pytest.fixture
def reg(tmp_path):
    return _registry_with(str(tmp_path))


def test_each_change_is_an_event_with_the_split_before_and_after(reg):
    reg.deploy("m@1.0.0", "prod")
    after = reg.deploy("m@1.0.1", "prod", traffic=10, reason="canary")
    assert after["traffic"] == {"1.0.0": 90, "1.0.1": 10} and after["from"] == {"1.0.0": 100}
    reg.undeploy("m@1.0.1", "prod", reason="errors")
    deploys = [e for e in _events(reg) if e["action"] in ("deploy", "undeploy")]
    assert [(e["action"], e["version"], e["details"]["env"], e["details"]["from"], e["details"]["to"], e["reason"])
            for e in deploys] == [
        ("deploy", "1.0.0", "prod", {}, {"1.0.0": 100}, ""),
        ("deploy", "1.0.1", "prod", {"1.0.0": 100}, {"1.0.0": 90, "1.0.1": 10}, "canary"),
        ("undeploy", "1.0.1", "prod", {"1.0.0": 90, "1.0.1": 10}, {"1.0.0": 100}, "errors"),
    ]
    _replays(reg)


def test_the_last_version_leaving_empties_the_environment_and_the_index_key(reg):
    reg.deploy("m@1.0.0", "prod")
    reg.undeploy("m@1.0.0", "prod")
    assert reg.deployments("m") == []
    assert "deployments" not in reg.model("m")
    _replays(reg)


def test_an_index_without_deployments_has_no_key_at_all(reg):
    # Registries made before deployments existed load and replay unchanged.
    assert "deployments" not in reg.model("m")


def test_archived_and_removed_versions_cannot_receive_traffic(reg):
    reg.transition("m@1.0.0", "archived")
    with pytest.raises(RefusedError, match="archived version cannot receive traffic"):
        reg.deploy("m@1.0.0", "prod")
    reg.remove("m@1.0.1")
    with pytest.raises(RefusedError, match="removed version cannot receive traffic"):
        reg.deploy("m", "prod", split="1.0.1=50,1.0.2=50")
    with pytest.raises(NotFoundError, match="removed"):
        reg.deploy("m@1.0.1", "prod")
    assert reg.deployments() == []


def test_promotion_and_stage_rollback_never_move_traffic(reg):
    reg.promote("m@1.0.0", to="production")
    reg.deploy("m@1.0.0", "prod")
    before = reg.deployments("m")
    reg.promote("m@1.0.1", to="production")  # supersedes 1.0.0
    reg.rollback("m")                        # and back
    reg.promote("m@1.0.2", to="staging")
    after = reg.deployments("m")
    assert [d["traffic"] for d in after] == [d["traffic"] for d in before] == [{"1.0.0": 100}]
    assert after[0]["since"] == before[0]["since"]


def test_drift_is_a_version_with_traffic_outside_the_stages_its_environment_allows(reg):
    with open(reg.layout.config, "a") as handle:
        handle.write('\n[environments.prod]\nstages = ["production"]\n')
    reg = mreg.open(reg.root)
    with pytest.raises(RefusedError, match="prod takes only versions in production"):
        reg.deploy("m@1.0.0", "prod")
    reg.promote("m@1.0.0", to="production")
    reg.deploy("m@1.0.0", "prod")
    reg.promote("m@1.0.1", to="production")
    reg.deploy("m@1.0.1", "prod", traffic=90)
    (found,) = reg.deployments("m", env="prod")
    assert found["traffic"] == {"1.0.1": 90, "1.0.0": 10}
    assert [(d["version"], d["stage"], d["traffic"]) for d in found["drift"]] == [("1.0.0", "deprecated", 10)]
    # An environment without a table takes any stage but archived.
    reg.deploy("m@1.0.3", "dev")
    assert reg.deployments("m", env="dev")[0]["drift"] == []


def test_holds_names_every_environment_a_version_serves(reg):
    reg.deploy("m@1.0.0", "prod")
    reg.deploy("m@1.0.1", "prod", traffic=10)
    reg.deploy("m@1.0.1", "eu-west")
    assert holds(reg.model("m"), "1.0.1") == ["100% of traffic in eu-west", "10% of traffic in prod"]
    assert holds(reg.model("m"), "1.0.2") == []


def test_a_forced_removal_undeploys_first_and_records_it(reg):
    reg.deploy("m@1.0.0", "prod")
    reg.deploy("m@1.0.1", "prod", traffic=30)
    with pytest.raises(RefusedError, match=r"m@1.0.1 is held: 30% of traffic in prod"):
        reg.remove("m@1.0.1")
    with pytest.raises(RefusedError, match="is held"):
        reg.remove("m", all_versions=True, dry_run=True)
    reg.remove("m@1.0.1", force=True, reason="leaked data")
    assert reg.deployments("m")[0]["traffic"] == {"1.0.0": 100}
    last = _events(reg)[-2:]
    assert [(e["action"], e["version"]) for e in last] == [("undeploy", "1.0.1"), ("rm", "1.0.1")]
    reg.remove("m", all_versions=True, force=True)
    assert reg.deployments() == []
    _replays(reg)


def test_gc_keeps_an_archived_version_that_still_serves(reg):
    reg.deploy("m@1.0.0", "prod")
    reg.transition("m@1.0.0", "archived")  # a stage move never moves traffic
    reg.transition("m@1.0.1", "archived")
    report = reg.gc(archived_older_than="0s", grace="0s")
    assert report["removed_versions"] == ["m@1.0.1"]
    assert "1.0.0" in reg.model("m")["versions"]


def test_bad_input_changes_nothing(reg):
    reg.deploy("m@1.0.0", "prod")
    before = reg.model("m")
    for call in (
        lambda: reg.deploy("m@1.0.1", "prod", traffic=0),
        lambda: reg.deploy("m@1.0.1", "prod", traffic=101),
        lambda: reg.deploy("m@1.0.1", "prod", traffic=True),
        lambda: reg.deploy("m@1.0.1", "Prod"),
        lambda: reg.deploy("m@1.0.1", "prod", traffic=10, rollback=True),
        lambda: reg.deploy("m", "prod", split={"1.0.0": 60, "1.0.1": 30}),
        lambda: reg.deploy("m@1.0.0", "prod", split={"1.0.0": 100}),
        lambda: reg.deploy("m", "prod"),
        lambda: reg.deploy("m@9.9.9", "prod"),
        lambda: reg.deploy("m@1.0.1", "qa", traffic=50),
        lambda: reg.undeploy("m@1.0.1", "prod"),
        lambda: reg.deploy("m", "qa", rollback=True),
        lambda: reg.export_deployment("m", "prod", "helm"),
    ):
        with pytest.raises((UsageError, RefusedError, NotFoundError)):
            call()
    assert reg.model("m") == before


def test_deploying_the_same_split_again_records_nothing(reg):
    reg.deploy("m@1.0.0", "prod")
    count = reg.model("m")["history"]["events"]
    again = reg.deploy("m@1.0.0", "prod")
    assert again["changed"] is False and again["traffic"] == {"1.0.0": 100}
    assert reg.model("m")["history"]["events"] == count


def test_export_names_each_version_by_its_stored_object(reg, tmp_path):
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"w")
    directory = reg.register("m", str(folder), framework="sklearn")
    reg.deploy("m@1.0.0", "prod")
    reg.deploy(f"m@{directory['version']}", "prod", traffic=25)
    exported = reg.export_deployment("m", "prod", "json")
    by_version = {v["version"]: v for v in exported["versions"]}
    manifest = reg.store.path(directory["digest"].split(":")[1])
    assert by_version[directory["version"]]["location"] == manifest and os.path.isfile(manifest)
    assert by_version["1.0.0"]["location"] == reg.store.path(reg.show("m@1.0.0")["digest"].split(":")[1])
    kserve = reg.export_deployment("m", "prod", "kserve")
    predictor = kserve["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 25
    assert predictor["model"] == {"storageUri": manifest, "modelFormat": {"name": "sklearn"}}
    assert kserve["metadata"]["annotations"]["mreg.stable-version"] == "1.0.0"
    sagemaker = reg.export_deployment("m", "prod", "sagemaker")
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in sagemaker["ProductionVariants"]] == [
        ("v1-0-4", 25.0), ("v1-0-0", 75.0)]
    reg.deploy("m@1.0.1", "prod", traffic=10)
    with pytest.raises(RefusedError, match="KServe cannot express this split: m has 3 versions"):
        reg.export_deployment("m", "prod", "kserve")
    assert len(reg.export_deployment("m", "prod", "sagemaker")["ProductionVariants"]) == 3


# --- properties over random sequences -------------------------------------------------

OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("deploy"), st.sampled_from(["1.0.0", "1.0.1", "1.0.2", "1.0.3"]), st.integers(1, 100)),
    st.tuples(st.just("undeploy"), st.sampled_from(["1.0.0", "1.0.1", "1.0.2", "1.0.3"]), st.just(0)),
    st.tuples(st.just("split"), st.permutations(["1.0.0", "1.0.1", "1.0.2", "1.0.3"]), st.integers(1, 99)),
    st.tuples(st.just("rollback"), st.just(""), st.just(0)),
), min_size=1, max_size=10)


def _apply(reg, op) -> bool:
    kind, version, value = op
    try:
        if kind == "deploy":
            reg.deploy(f"m@{version}", "prod", traffic=value)
        elif kind == "undeploy":
            reg.undeploy(f"m@{version}", "prod")
        elif kind == "split":
            reg.deploy("m", "prod", split={version[0]: value, version[1]: 100 - value})
        else:
            reg.deploy("m", "prod", rollback=True)
    except (RefusedError, NotFoundError):
        return False
    return True


def _split(reg) -> dict:
    found = reg.deployments("m", env="prod")
    return found[0]["traffic"] if found else {}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
def test_every_split_sums_to_100_and_rollback_restores_the_one_before_exactly(operations):
    with tempfile.TemporaryDirectory() as folder:
        reg = _registry_with(folder)
        for op in operations:
            before = _split(reg)
            changed = _apply(reg, op)
            after = _split(reg)
            assert not after or sum(after.values()) == 100
            assert all(share >= 1 for share in after.values())
            if not changed:
                assert after == before
            elif after != before:
                reg.deploy("m", "prod", rollback=True)
                assert _split(reg) == before
                reg.deploy("m", "prod", rollback=True)  # a rollback is a change too: rolled back, it returns
                assert _split(reg) == after
        _replays(reg)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
def test_the_split_at_a_past_time_is_the_one_recorded_then(operations):
    with tempfile.TemporaryDirectory() as folder:
        reg = _registry_with(folder)
        recorded = []
        for op in operations:
            _apply(reg, op)
            recorded.append((reg.model("m")["history"]["events"], reg.deployments("m")))
        events = _events(reg)
        for count, state in recorded:
            # The moment of the last event then: everything up to it, nothing after.
            moment = events[count - 1]["time"]
            assert reg.deployments("m", at=moment) == state


def test_with_a_remote_the_export_names_each_object_on_the_default_remote(reg, tmp_path):
    reg.deploy("m@1.0.0", "prod")
    remote = tmp_path / "team-remote"
    reg.remote_add("origin", str(remote))
    reg.push()
    hexdigest = reg.show("m@1.0.0")["digest"].split(":")[1]
    [entry] = reg.export_deployment("m", "prod", "json")["versions"]
    assert entry["location"] == f"{remote}/objects/{hexdigest[:2]}/{hexdigest[2:]}"
    assert os.path.isfile(entry["location"])  # pushed: the serving system finds the bytes there
    sagemaker = reg.export_deployment("m", "prod", "sagemaker")
    assert sagemaker["Models"][0]["PrimaryContainer"]["ModelDataUrl"] == entry["location"]
