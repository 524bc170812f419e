"""config.toml: the lifecycle table is data, validated with errors that name the key."""

from __future__ import annotations

import copy

import pytest

from mreg.core.config import default_config, load_config, parse_lifecycle, render_config
from mreg.errors import ExitCode, IntegrityError


def lifecycle(**changes):
    table = copy.deepcopy(default_config()["lifecycle"])
    table.update(changes)
    return table


def test_defaults_round_trip(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(render_config(default_config()))
    config = load_config(str(path))
    life = config.lifecycle
    assert life.initial == "development" and life.release == "production"
    assert life.exclusive == frozenset({"production"})
    assert life.allowed("staging", "production") and not life.allowed("development", "production")
    assert not life.allowed("archived", "development")
    assert (config.gc_grace, config.gc_archived_older_than) == ("24h", "")


def test_a_custom_table_is_honoured():
    table = lifecycle(stages=["draft", "live", "gone"], initial="draft", promotion=["draft", "live"],
                      exclusive=["live"], retired="gone", archived="gone",
                      transitions={"draft": ["live"], "live": ["gone"]})
    life = parse_lifecycle(table)
    assert life.release == "live" and life.allowed("draft", "live") and not life.allowed("gone", "draft")


@pytest.mark.parametrize("changes, key", [
    ({"transitions": {"development": ["qa"]}}, "lifecycle.transitions.development"),
    ({"transitions": {"qa": []}}, "lifecycle.transitions.qa"),
    ({"transitions": {"development": "testing"}}, "lifecycle.transitions.development"),
    ({"promotion": ["development", "testing", "development"]}, "lifecycle.promotion"),
    ({"promotion": ["development", "qa"]}, "lifecycle.promotion"),
    ({"promotion": []}, "lifecycle.promotion"),
    ({"exclusive": ["live"]}, "lifecycle.exclusive"),
    ({"initial": "draft"}, "lifecycle.initial"),
    ({"retired": "gone"}, "lifecycle.retired"),
    ({"stages": []}, "lifecycle.stages"),
    ({"stages": ["development", "development"]}, "lifecycle.stages"),
    ({"stages": ["Development"]}, "lifecycle.stages"),
    ({"stages": ["latest"]}, "lifecycle.stages"),
    ({"transitions": None}, "lifecycle.transitions"),
])
def test_invalid_tables_name_the_key(changes, key):
    table = lifecycle(**changes)
    if changes.get("transitions", 0) is None:
        del table["transitions"]
    with pytest.raises(IntegrityError) as caught:
        parse_lifecycle(table)
    assert caught.value.message.startswith(f"invalid config.toml: {key}:")
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == ExitCode.INTEGRITY


def test_missing_lifecycle_table():
    with pytest.raises(IntegrityError, match="invalid config.toml: lifecycle: missing table"):
        parse_lifecycle(None)


@pytest.mark.parametrize("text, fragment", [
    ("format = 1\n", "lifecycle: missing table"),
    ("lifecycle = 3\n", "format"),
    ("format = 99\n", "newer than this mreg"),
    ("format = [1\n", "config.toml is damaged"),
    ('format = 1\ngc = "x"\n', "gc: not a table"),
])
def test_damaged_files(tmp_path, text, fragment):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(IntegrityError) as caught:
        load_config(str(path))
    assert fragment in caught.value.message


def test_missing_file(tmp_path):
    with pytest.raises(IntegrityError, match="missing"):
        load_config(str(tmp_path / "config.toml"))


@pytest.mark.parametrize("key, value", [("grace", "forever"), ("grace", ""), ("archived_older_than", "30 days")])
def test_a_gc_default_that_is_not_a_duration_names_the_config_key(tmp_path, key, value):
    # Otherwise `mreg gc -q` in cron says only "invalid duration", as if the command line were wrong.
    data = default_config()
    data["gc"][key] = value
    path = tmp_path / "config.toml"
    path.write_bytes(render_config(data))
    with pytest.raises(IntegrityError) as caught:
        load_config(str(path))
    assert f"config.toml: gc.{key}:" in caught.value.message and caught.value.exit_code == ExitCode.INTEGRITY


# --- [policy] and [environments]: approvals -------------------------------------------

def _with_policy(tmp_path, extra: dict):
    data = default_config()
    data.update(copy.deepcopy(extra))
    path = tmp_path / "config.toml"
    path.write_bytes(render_config(data))
    return load_config(str(path))


POLICY = {
    "policy": {
        "admins": ["root@example.com", "group:leads"],
        "groups": {"leads": ["alice@example.com", "bob@example.com"]},
        "stages": {"production": {"approvals": 2, "approvers": ["group:leads", "carol@example.com"],
                                  "self_approval": False, "expire": "14d", "rollback_requires_approval": True}},
    },
    "environments": {"prod": {"stages": ["production"], "approvals": 1}, "canary": {"stages": ["staging"]}},
}


def test_a_policy_is_read(tmp_path):
    policy = _with_policy(tmp_path, POLICY).policy
    rule = policy.rule(stage="production")
    assert rule.approvals == 2 and rule.expire == "14d" and rule.rollback_requires_approval
    assert rule.allowed == {"alice@example.com", "bob@example.com", "carol@example.com"}
    assert rule.may_approve("carol@example.com") and not rule.may_approve("dave@example.com")
    assert policy.admins == {"root@example.com", "alice@example.com", "bob@example.com"}
    assert policy.rule(stage="staging") is None
    assert policy.rule(env="prod").approvals == 1 and policy.rule(env="prod").may_approve("anyone")
    assert policy.rule(env="canary") is None and policy.environments["canary"].stages == ("staging",)


def test_no_policy_protects_nothing(tmp_path):
    policy = _with_policy(tmp_path, {}).policy
    assert policy.rule(stage="production") is None and not policy.admins


@pytest.mark.parametrize("change, key", [
    ({"policy": {"admin": ["x"]}}, "policy.admin"),
    ({"policy": {"stages": {"production": {"approvals": 1, "approver": ["x"]}}}}, "policy.stages.production.approver"),
    ({"policy": {"stages": {"prod": {"approvals": 1}}}}, "policy.stages.prod"),
    ({"policy": {"stages": {"development": {"approvals": 1}}}}, "policy.stages.development"),
    ({"policy": {"stages": {"production": {"approvals": 1, "approvers": ["group:leads"]}}}},
     "policy.stages.production.approvers"),
    ({"policy": {"admins": ["group:nobody"]}}, "policy.admins"),
    ({"policy": {"groups": {"leads": ["group:other"]}}}, "policy.groups.leads"),
    ({"policy": {"groups": {"leads": "alice"}}}, "policy.groups.leads"),
    ({"policy": {"stages": {"production": {"approvals": 0}}}}, "policy.stages.production.approvals"),
    ({"policy": {"stages": {"production": {"approvals": -1}}}}, "policy.stages.production.approvals"),
    ({"policy": {"stages": {"production": {"approvals": True}}}}, "policy.stages.production.approvals"),
    ({"policy": {"stages": {"production": {"approvals": "2"}}}}, "policy.stages.production.approvals"),
    ({"policy": {"stages": {"production": {}}}}, "policy.stages.production.approvals"),
    ({"policy": {"stages": {"production": {"approvals": 3, "approvers": ["a", "b"]}}}},
     "policy.stages.production.approvers"),
    ({"policy": {"stages": {"production": {"approvals": 1, "expire": "two weeks"}}}},
     "policy.stages.production.expire"),
    ({"policy": {"stages": {"production": {"approvals": 1, "expire": "0"}}}}, "policy.stages.production.expire"),
    ({"policy": {"stages": {"production": {"approvals": 1, "self_approval": "no"}}}},
     "policy.stages.production.self_approval"),
    ({"policy": {"stages": {"production": {"approvals": 1, "approvers": []}}}}, "policy.stages.production.approvers"),
    ({"policy": "strict"}, "policy"),
    ({"environments": {"prod": {"stage": ["production"]}}}, "environments.prod.stage"),
    ({"environments": {"prod": {"stages": ["prod"]}}}, "environments.prod.stages"),
    ({"environments": {"Prod": {}}}, "environments.Prod"),
    ({"environments": {"prod": {"approvers": ["a"]}}}, "environments.prod.approvers"),
    ({"environments": {"prod": {"approvals": 1, "approvers": ["group:x"]}}}, "environments.prod.approvers"),
    ({"environments": {"prod": {"approvals": 1, "rollback_requires_approval": True}}},
     "environments.prod.rollback_requires_approval"),
])
def test_a_bad_policy_names_the_key(tmp_path, change, key):
    with pytest.raises(IntegrityError) as caught:
        _with_policy(tmp_path, change)
    assert caught.value.message.startswith(f"invalid config.toml: {key}:"), caught.value.message
    assert "\n" not in caught.value.message and caught.value.exit_code == ExitCode.INTEGRITY
