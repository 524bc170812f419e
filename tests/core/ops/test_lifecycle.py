"""transition, promote, rollback: the stage table, the exclusive stage, the events they record."""

from __future__ import annotations

import pytest

from mreg.errors import RefusedError, UsageError


@pytest.fixture
def two(reg, artifact):
    reg.register("m", artifact(b"one"))
    reg.register("m", artifact(b"two"))
    return reg


def _stages(reg) -> dict[str, str]:
    return {d["version"]: d["stage"] for d in reg.versions("m")}


def test_transition_moves_one_step_the_table_allows(two):
    assert two.transition("m@1.0.0", "testing", reason="r")["stage"] == "testing"
    event = two.history("m")[0]
    assert (event["action"], event["version"], event["from"], event["to"], event["reason"]) == (
        "transition", "1.0.0", "development", "testing", "r")
    with pytest.raises(RefusedError):
        two.transition("m@1.0.0", "production")  # testing -> production is not in the table
    with pytest.raises(UsageError):
        two.transition("m@1.0.0", "nowhere")
    assert _stages(two) == {"1.0.0": "testing", "1.0.1": "development"}


def test_promote_one_step_or_up_to_a_stage(two):
    assert two.promote("m@1.0.0")["stage"] == "testing"
    assert two.promote("m@1.0.0", to="production")["stage"] == "production"
    assert [e["to"] for e in two.history("m", actions=["promote"])] == ["production", "staging", "testing"]


def test_the_exclusive_stage_holds_one_version_and_rollback_restores_the_previous(two):
    two.promote("m@1.0.0", to="production")
    two.promote("m@1.0.1", to="production")
    stages = _stages(two)
    assert stages["1.0.1"] == "production" and stages["1.0.0"] != "production"
    two.rollback("m")
    stages = _stages(two)
    assert stages["1.0.0"] == "production" and stages["1.0.1"] != "production"
    assert two.show("m@production")["version"] == "1.0.0"


def test_rollback_with_nothing_released_before_is_refused(two):
    with pytest.raises(RefusedError):
        two.rollback("m")
    two.promote("m@1.0.0", to="production")
    with pytest.raises(RefusedError):
        two.rollback("m")
    assert _stages(two)["1.0.0"] == "production"
