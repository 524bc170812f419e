"""Approvals before protected stages: approve, reject, approvals, --override, through the real CLI,
with several users (MREG_USER) and a clock the tests set (MREG_NOW)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ALICE, BOB, CAROL, DAVE = "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
ROOT = "root@example.com"
DEV = "tester@example.com"  # the fixtures' MREG_USER: registers the versions

POLICY = f"""
[policy]
admins = ["{ROOT}"]

[policy.groups]
leads = ["{ALICE}", "{BOB}"]

[policy.stages.production]
approvals = 2
approvers = ["group:leads", "{CAROL}"]
self_approval = false
expire = "14d"
"""


def configure(project: Path, extra: str = POLICY) -> None:
    config = project / ".mreg" / "config.toml"
    config.write_text(config.read_text() + extra)


def as_user(user: str, **more) -> dict:
    return {"MREG_USER": user, **more}


def snapshot(project: Path) -> dict:
    """Every file under .mreg/models: what a refused command must leave alone."""
    root = project / ".mreg" / "models"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def events(mreg, ref: str) -> list[dict]:
    return list(reversed(mreg("history", ref, "--json").json))


@pytest.fixture
def governed(mreg, project):
    """A registry whose production takes 2 approvals from leads or carol; m@1.0.0 registered by DEV, in staging."""
    configure(project)
    (project / "m.bin").write_text("weights")
    mreg("register", "m", project / "m.bin", "-q", "-m", "auc=0.9")
    mreg("promote", "m@1.0.0", "--to", "staging", "-q")
    return mreg


def test_two_distinct_approvals_are_needed(governed, project):
    mreg = governed
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert "cannot enter production: needs 2 approvals, no valid approvals: 2 missing" in refused.err
    assert "mreg approve m@1.0.0 --stage production" in refused.err
    mreg("approve", "m@1.0.0", "--stage", "production", "--reason", "read the eval", env=as_user(ALICE))
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert f"approved by {ALICE}: 1 missing" in refused.err
    before = snapshot(project)
    again = mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE), expect=1)
    assert again.err.startswith(f"mreg: error: {ALICE} already approved m@1.0.0 for production")
    assert snapshot(project) == before
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(CAROL))
    mreg("promote", "m@1.0.0", "--to", "production")
    assert mreg("show", "m@1.0.0", "--json").json["stage"] == "production"
    actions = [e["action"] for e in events(mreg, "m@1.0.0")]
    assert actions[-3:] == ["approve", "approve", "promote"]
    mreg("verify", "--rebuild-index")


def test_self_approval_is_refused_unless_allowed(mreg, project):
    configure(project)
    (project / "m.bin").write_text("weights")
    mreg("register", "m", project / "m.bin", "-q", env=as_user(ALICE))
    before = snapshot(project)
    refused = mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE), expect=1)
    assert f"{ALICE} registered m@1.0.0 and may not approve it for production" in refused.err
    assert len(refused.err.splitlines()) <= 2 and snapshot(project) == before
    # A configuration that allows it.
    config = project / ".mreg" / "config.toml"
    config.write_text(config.read_text().replace("self_approval = false", "self_approval = true"))
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE))
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(BOB))
    mreg("promote", "m@1.0.0", "--to", "production")


def test_an_approval_given_before_self_approval_was_forbidden_does_not_count(mreg, project):
    configure(project, POLICY.replace("self_approval = false", "self_approval = true"))
    (project / "m.bin").write_text("weights")
    mreg("register", "m", project / "m.bin", "-q", env=as_user(ALICE))
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE))
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(BOB))
    config = project / ".mreg" / "config.toml"
    config.write_text(config.read_text().replace("self_approval = true", "self_approval = false"))
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert f"{ALICE}'s approval does not count: they registered it" in refused.err


def test_bad_approvals_are_refused_and_change_nothing(governed, project):
    mreg = governed
    before = snapshot(project)
    cases = [
        (["approve", "m@1.0.0", "--stage", "production"], DAVE, 1, f"{DAVE} may not approve m@1.0.0 for production"),
        (["approve", "m@1.0.0", "--stage", "staging"], ALICE, 1, "staging needs no approvals"),
        (["approve", "m@1.0.0", "--env", "prod"], ALICE, 1, "environment prod needs no approvals"),
        (["approve", "m@1.0.0", "--stage", "prod"], ALICE, 2, "unknown stage 'prod'"),
        (["approve", "m@1.0.0"], ALICE, 2, "give one of --stage and --env"),
        (["approve", "m@1.0.0", "--stage", "production", "--env", "prod"], ALICE, 2, "give one of --stage and --env"),
        (["approve", "m@1.0.0", "--env", "Prod"], ALICE, 2, "invalid environment 'Prod'"),
        (["reject", "m@1.0.0", "--stage", "production"], ALICE, 2, "a rejection needs --reason"),
        (["approve", "m", "--stage", "production"], ALICE, 2, "names a model, not a version"),
        (["approve", "m@9.0.0", "--stage", "production"], ALICE, 1, "m has no version 9.0.0"),
        (["approve", "nope@1.0.0", "--stage", "production"], ALICE, 1, "no model named 'nope'"),
    ]
    for args, user, code, message in cases:
        result = mreg(*args, env=as_user(user), expect=code)
        assert message in result.err, (args, result)
        assert result.err.startswith("mreg: error: ") and len(result.err.splitlines()) <= 2
        assert "Traceback" not in result.err
    assert snapshot(project) == before


def test_a_version_already_in_the_stage_has_nothing_left_to_approve(governed, project):
    mreg = governed
    mreg("promote", "m@1.0.0", "--to", "production", "--override", "--reason", "hotfix", env=as_user(ROOT))
    refused = mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE), expect=1)
    assert "m@1.0.0 is already in production" in refused.err


def test_an_unknown_group_in_the_config_is_exit_3_for_every_command(mreg, project):
    configure(project, POLICY.replace('"group:leads"', '"group:reviewers"'))
    for args in (["list"], ["approvals", "m@1.0.0"], ["approve", "m@1.0.0", "--stage", "production"]):
        result = mreg(*args, expect=3)
        assert result.err.startswith("mreg: error: invalid config.toml: policy.stages.production.approvers: "
                                     "unknown group 'reviewers'"), result


def test_approvals_expire(governed, project):
    mreg = governed
    day1, day10, day16 = "2026-11-01T10:00Z", "2026-11-10T10:00Z", "2026-11-16T10:00Z"
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE, MREG_NOW=day1))
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(BOB, MREG_NOW=day10))
    listed = mreg("approvals", "m@1.0.0", "--json", env={"MREG_NOW": day16}).json
    assert [(a["by"], a["status"]) for a in listed["approvals"]] == [(ALICE, "expired"), (BOB, "valid")]
    assert listed["approvals"][0]["expires_at"] == "2026-11-15T10:00:00.000000Z"
    [production] = listed["targets"]
    assert production["stage"] == "production" and production["approved_by"] == [BOB]
    assert production["missing"] == [f"needs 2 approvals, approved by {BOB}: 1 missing"]
    refused = mreg("promote", "m@1.0.0", "--to", "production", env={"MREG_NOW": day16}, expect=1)
    assert f"approved by {BOB}: 1 missing" in refused.err
    # The expired approver may approve again; on day 14 the first one had not expired.
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE, MREG_NOW=day16))
    mreg("promote", "m@1.0.0", "--to", "production", env={"MREG_NOW": day16})


def test_an_approval_still_valid_counts_just_before_it_expires(governed):
    mreg = governed
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE, MREG_NOW="2026-11-01T10:00Z"))
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(BOB, MREG_NOW="2026-11-01T10:00Z"))
    mreg("promote", "m@1.0.0", "--to", "production", env={"MREG_NOW": "2026-11-15T09:59Z"})


def test_an_update_voids_the_approvals(governed, project):
    mreg = governed
    for user in (ALICE, BOB):
        mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(user))
    mreg("update", "m@1.0.0", "-m", "auc=0.9", "-q")  # changes nothing: nothing voided
    assert "void" not in [e["action"] for e in events(mreg, "m@1.0.0")]
    mreg("update", "m@1.0.0", "-m", "auc=0.95", "-q")
    void = events(mreg, "m@1.0.0")[-1]
    assert void["action"] == "void" and void["details"] == {"ids": [1, 2]}
    assert void["reason"] == "metadata changed by update"
    listed = mreg("approvals", "m@1.0.0", "--json").json
    assert [a["status"] for a in listed["approvals"]] == ["void", "void"]
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert "no valid approvals: 2 missing" in refused.err
    # Approved again, on the new metadata.
    for user in (ALICE, BOB):
        mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(user))
    mreg("promote", "m@1.0.0", "--to", "production")
    mreg("verify", "--rebuild-index")


def test_a_rejection_blocks_until_withdrawn(governed, project):
    mreg = governed
    for user in (ALICE, BOB):
        mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(user))
    mreg("reject", "m@1.0.0", "--stage", "production", "--reason", "no eval on 2026 data", env=as_user(CAROL))
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert f"rejected by {CAROL} at " in refused.err and "no eval on 2026 data" in refused.err
    again = mreg("reject", "m@1.0.0", "--stage", "production", "--reason", "still", env=as_user(CAROL), expect=1)
    assert f"{CAROL} already rejected" in again.err
    # Bob changes his mind: his rejection withdraws his approval; two rejections now.
    mreg("reject", "m@1.0.0", "--stage", "production", "--reason", "agree with carol", env=as_user(BOB))
    listed = mreg("approvals", "m@1.0.0", "--json").json["approvals"]
    assert [(a["by"], a["decision"], a["status"]) for a in listed] == [
        (ALICE, "approve", "valid"), (BOB, "approve", "void"), (CAROL, "reject", "valid"), (BOB, "reject", "valid")]
    assert listed[1]["void_reason"] == f"withdrawn by {BOB}'s reject"
    for user in (CAROL, BOB):
        mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(user))
    mreg("promote", "m@1.0.0", "--to", "production")
    mreg("verify", "--rebuild-index")


def test_a_rejection_does_not_expire(governed):
    mreg = governed
    mreg("reject", "m@1.0.0", "--stage", "production", "-r", "no", env=as_user(CAROL, MREG_NOW="2026-01-01T00:00Z"))
    for user in (ALICE, BOB):
        mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(user, MREG_NOW="2026-06-01T00:00Z"))
    refused = mreg("promote", "m@1.0.0", "--to", "production", env={"MREG_NOW": "2026-06-02T00:00Z"}, expect=1)
    assert f"rejected by {CAROL}" in refused.err


def test_override_is_for_admins_with_a_reason(governed, project):
    mreg = governed
    before = snapshot(project)
    refused = mreg("promote", "m@1.0.0", "--to", "production", "--override", "--reason", "hotfix", expect=1)
    assert f"{DEV} is not an admin: only admins may override approvals" in refused.err
    # An approver is not an admin either.
    mreg("promote", "m@1.0.0", "--to", "production", "--override", "-r", "x", env=as_user(ALICE), expect=1)
    usage = mreg("promote", "m@1.0.0", "--to", "production", "--override", env=as_user(ROOT), expect=2)
    assert "--override needs --reason" in usage.err
    assert snapshot(project) == before
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE))
    mreg("promote", "m@1.0.0", "--to", "production", "--override", "--reason", "outage fix", env=as_user(ROOT))
    override, promote = events(mreg, "m@1.0.0")[-2:]
    assert override["action"] == "override" and override["user"] == ROOT and override["reason"] == "outage fix"
    assert override["details"] == {"stage": "production", "approvals": [1],
                                   "missing": [f"needs 2 approvals, approved by {ALICE}: 1 missing"]}
    assert (promote["action"], promote["to"], promote["user"]) == ("promote", "production", ROOT)
    mreg("verify", "--rebuild-index")


def test_override_on_transition_and_register(governed, project):
    mreg = governed
    mreg("transition", "m@1.0.0", "production", "--override", "-r", "x", expect=1)
    mreg("transition", "m@1.0.0", "production", "--override", "-r", "hotfix", env=as_user(ROOT))
    (project / "n.bin").write_text("other")
    mreg("register", "n", project / "n.bin", "--stage", "production", "--override", "-r", "x", expect=1)
    mreg("register", "n", project / "n.bin", "--stage", "production", "--override", "-r", "first", env=as_user(ROOT))
    actions = [e["action"] for e in events(mreg, "n@1.0.0")]
    assert actions == ["register", "promote", "promote", "override", "promote"]
    mreg("verify", "--rebuild-index")


MULTI = f"""
[policy]
admins = ["{ROOT}"]

[policy.stages.staging]
approvals = 1

[policy.stages.production]
approvals = 1
approvers = ["{ALICE}"]
"""


def test_every_way_into_a_protected_stage_is_checked(mreg, project):
    configure(project, MULTI)
    (project / "m.bin").write_text("weights")
    mreg("register", "m", project / "m.bin", "-q")
    before = snapshot(project)
    objects = sorted(p for p in (project / ".mreg" / "objects").rglob("*") if p.is_file())
    # promote, multi-step: refused at staging, before any step is taken.
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert "m@1.0.0 cannot enter staging" in refused.err
    # register --stage: refused before anything is stored or registered.
    (project / "n.bin").write_text("other")
    refused = mreg("register", "n", project / "n.bin", "--stage", "staging", expect=1)
    assert "staging takes approvals, and a new version has none" in refused.err
    assert snapshot(project) == before
    assert sorted(p for p in (project / ".mreg" / "objects").rglob("*") if p.is_file()) == objects
    # Staging approved by anyone (no approvers listed) but the registrant; production still refused.
    mreg("approve", "m@1.0.0", "--stage", "staging", env=as_user(BOB))
    refused = mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    assert "m@1.0.0 cannot enter production" in refused.err
    assert mreg("show", "m@1.0.0", "--json").json["stage"] == "development"  # nothing moved
    mreg("promote", "m@1.0.0", "--to", "staging")
    # transition: refused the same way.
    refused = mreg("transition", "m@1.0.0", "production", expect=1)
    assert "m@1.0.0 cannot enter production: needs 1 approval, no valid approvals: 1 missing" in refused.err
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE))
    mreg("transition", "m@1.0.0", "production")


ROLLBACK = f"""
[policy]
admins = ["{ROOT}"]

[policy.stages.production]
approvals = 1
rollback_requires_approval = ROLLBACK
"""


@pytest.mark.parametrize("needs", [False, True])
def test_rollback_is_exempt_unless_configured(mreg, project, needs):
    configure(project, ROLLBACK.replace("ROLLBACK", "true" if needs else "false"))
    for i in range(2):
        (project / "m.bin").write_text(f"weights {i}")
        mreg("register", "m", project / "m.bin", "-q")
        mreg("approve", f"m@1.0.{i}", "--stage", "production", env=as_user(ALICE))
        mreg("promote", f"m@1.0.{i}", "--to", "production", "-q")
    # 1.0.0's approval is still valid: void it, so the rollback has none.
    mreg("update", "m@1.0.0", "-t", "note=old", "-q")
    if needs:
        refused = mreg("rollback", "m", expect=1)
        assert "m@1.0.0 cannot enter production" in refused.err
        mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE))
    mreg("rollback", "m")
    assert mreg("show", "m@production", "--json").json["version"] == "1.0.0"
    mreg("verify", "--rebuild-index")


def test_the_approvals_listing(governed):
    mreg = governed
    empty = mreg("approvals", "m@1.0.0")
    assert "production\tneeds 2 approvals, no valid approvals: 2 missing" in empty.out
    mreg("approve", "m@1.0.0", "--stage", "production", "-r", "looks good", env=as_user(ALICE))
    shown = mreg("approvals", "m@1.0.0").out.splitlines()
    assert shown[0].startswith(f"approve\tproduction\t{ALICE}\t") and shown[0].endswith("\tvalid\t" +
                                                                                         shown[0].split("\t")[5] + "\tlooks good")
    assert shown[1] == f"production\tneeds 2 approvals, approved by {ALICE}: 1 missing"
    document = mreg("approvals", "m@1.0.0", "--json").json
    [record] = document["approvals"]
    assert set(record) == {"name", "id", "decision", "version", "stage", "by", "at", "reason", "digest",
                           "expires_at", "status"}
    assert (document["name"], document["version"]) == ("m", "1.0.0")
    one = mreg("approve", "m@1.0.0", "--stage", "production", "--json", env=as_user(BOB)).json
    assert one["by"] == BOB and one["decision"] == "approve" and one["id"] == 2
    assert "production\tready: approved by" in mreg("approvals", "m@1.0.0").out


def test_environment_approvals_are_recorded_and_listed(mreg, project):
    configure(project, '\n[environments.prod]\nstages = ["production"]\napprovals = 1\n')
    (project / "m.bin").write_text("weights")
    mreg("register", "m", project / "m.bin", "-q")
    mreg("approve", "m@1.0.0", "--env", "prod", env=as_user(ALICE))
    listed = mreg("approvals", "m@1.0.0", "--json").json
    assert listed["approvals"][0]["env"] == "prod" and "stage" not in listed["approvals"][0]
    assert listed["targets"] == [{"env": "prod", "approvals": 1, "approved_by": [ALICE], "entered": False,
                                  "missing": []}]
    mreg("verify", "--rebuild-index")


def test_a_damaged_approval_record_is_an_integrity_error(governed, project):
    mreg = governed
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE))
    index = project / ".mreg" / "models" / "m" / "_index.json"
    document = json.loads(index.read_text())
    document["approvals"][0]["by"] = 5
    index.write_text(json.dumps(document))
    damaged = mreg("show", "m@1.0.0", expect=3)
    assert "approvals[0].by: not text" in damaged.err


def readme_policy() -> str:
    """The policy example of the README's Governance section, as written there."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Governance\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_the_readme_policy_does_what_the_readme_says(mreg, project):
    configure(project, "\n" + readme_policy())
    (project / "m.bin").write_text("weights")
    mreg("register", "m", project / "m.bin", "-q", env=as_user(ALICE))
    # The registrant cannot approve; someone outside the approvers cannot either.
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(ALICE), expect=1)
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(DAVE), expect=1)
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(BOB))
    mreg("reject", "m@1.0.0", "--stage", "production", "-r", "no latency numbers", env=as_user(CAROL))
    mreg("promote", "m@1.0.0", "--to", "production", expect=1)
    mreg("approve", "m@1.0.0", "--stage", "production", env=as_user(CAROL))
    refused = mreg("promote", "m@1.0.0", "--to", "production", env={"MREG_NOW": "2099-01-01T00:00Z"}, expect=1)
    assert "no valid approvals: 2 missing" in refused.err  # both expired after 14 days
    mreg("promote", "m@1.0.0", "--to", "production")
    (project / "m.bin").write_text("hotfix")
    mreg("register", "m", project / "m.bin", "--stage", "production", expect=1)
    mreg("register", "m", project / "m.bin", "--stage", "production", "--override", "-r", "outage fix",
         env=as_user("ops-lead@example.com"))
    mreg("rollback", "m")  # exempt: rollback_requires_approval = false
    assert mreg("show", "m@production", "--json").json["version"] == "1.0.0"


def test_approvals_given_at_once_are_all_recorded(governed, project):
    """Approvers at the same moment queue on the registry lock: each record gets its own id, none is lost."""
    import os
    import subprocess
    import sys

    runs = [subprocess.Popen([sys.executable, "-m", "mreg", "approve", "m@1.0.0", "--stage", "production", "-q"],
                             cwd=project, env={**os.environ, "MREG_USER": user}, stderr=subprocess.PIPE)
            for user in (ALICE, BOB, CAROL)]
    assert [run.wait(timeout=60) for run in runs] == [0, 0, 0], [run.stderr.read() for run in runs]
    records = governed("approvals", "m@1.0.0", "--json").json["approvals"]
    assert sorted(r["id"] for r in records) == [1, 2, 3] and {r["by"] for r in records} == {ALICE, BOB, CAROL}
    governed("promote", "m@1.0.0", "--to", "production")
    governed("verify", "--rebuild-index")
