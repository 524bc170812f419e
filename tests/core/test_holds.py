"""holds(): what keeps a version from being removed, read from its model's index."""

from __future__ import annotations

import mreg
from mreg.core.holds import holds

POLICY = """
[policy.stages.production]
approvals = 1
expire = "7d"

[environments.prod]
approvals = 1
"""


def _registry(tmp_path, monkeypatch):
    registry = mreg.init(str(tmp_path / "project"))
    with open(registry.layout.config, "a") as handle:
        handle.write(POLICY)
    (tmp_path / "m.bin").write_text("weights")
    registry.register("m", str(tmp_path / "m.bin"), stage="staging")
    monkeypatch.setenv("MREG_USER", "alice@example.com")
    return mreg.open(registry.root)


def test_approvals_pending_hold_a_version_until_it_enters_the_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("MREG_NOW", "2026-11-01T00:00Z")
    registry = _registry(tmp_path, monkeypatch)
    assert holds(registry.model("m"), "1.0.0") == []
    registry.approve("m@1.0.0", stage="production")
    registry.approve("m@1.0.0", env="prod")
    assert holds(registry.model("m"), "1.0.0") == ["approvals pending for production",
                                                  "approvals pending for environment prod"]
    monkeypatch.setenv("MREG_NOW", "2026-11-09T00:00Z")  # the production approval expired
    assert holds(registry.model("m"), "1.0.0") == ["approvals pending for environment prod"]
    monkeypatch.setenv("MREG_NOW", "2026-11-02T00:00Z")
    registry.promote("m@1.0.0")
    assert holds(registry.model("m"), "1.0.0") == ["approvals pending for environment prod"]
    registry.update("m@1.0.0", tags=["note=x"])  # voids the environment's approval
    assert holds(registry.model("m"), "1.0.0") == []


def test_a_rejection_holds_nothing(tmp_path, monkeypatch):
    registry = _registry(tmp_path, monkeypatch)
    registry.reject("m@1.0.0", stage="production", reason="no")
    assert holds(registry.model("m"), "1.0.0") == []


def test_the_python_api_returns_plain_records(tmp_path, monkeypatch):
    registry = _registry(tmp_path, monkeypatch)
    record = registry.approve("m@1.0.0", stage="production", reason="ok")
    assert record["by"] == "alice@example.com" and record["decision"] == "approve" and record["name"] == "m"
    listed = registry.approvals("m@1.0.0")
    assert [r["status"] for r in listed["approvals"]] == ["valid"]
    assert [t["missing"] for t in listed["targets"]] == [[], ["needs 1 approval, no valid approvals: 1 missing"]]
    monkeypatch.setenv("MREG_USER", "tester@example.com")  # the registrant, who registered it
    registry = mreg.open(registry.root)
    assert registry.promote("m@1.0.0")["stage"] == "production"
