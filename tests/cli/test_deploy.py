"""mreg deploy, undeploy and deployments at the command line: output, rules, errors, export, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.fixture
def four(project):
    """Model `m` with versions 1.0.0-1.0.3 (1.0.0 in production), nothing deployed.

    Made in-process through the Python API: the commands under test run as subprocesses.
    """
    import mreg as api

    registry = api.open(str(project))
    artifact = project / "m.bin"
    for i in range(4):
        artifact.write_bytes(f"weights {i}".encode())
        registry.register("m", str(artifact))
    registry.promote("m@1.0.0", to="production")
    return registry


def _index(project, name="m"):
    return json.loads((project / ".mreg" / "models" / name / "_index.json").read_text())


def _history(project, name="m"):
    return [json.loads(line) for line in (project / ".mreg" / "models" / name / "_history.jsonl").read_text().splitlines()]


def _unchanged(mreg, project, *args, expect):
    before = (project / ".mreg" / "models" / "m" / "_index.json").read_bytes()
    r = mreg(*args, expect=expect)
    assert r.err.startswith("mreg: error: ") and "Traceback" not in r.err
    assert (project / ".mreg" / "models" / "m" / "_index.json").read_bytes() == before
    return r


def test_deploy_prints_the_resulting_split(mreg, four):
    assert mreg("deploy", "m@1.0.0", "--env", "prod").out == "m in prod: 1.0.0 100%\n"
    r = mreg("deploy", "m@1.0.1", "--env", "prod", "--traffic", "10", "--reason", "canary")
    assert r.out == "m in prod: 1.0.0 90%, 1.0.1 10%\n"
    r = mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "5%")
    assert r.out == "m in prod: 1.0.0 85%, 1.0.1 10%, 1.0.2 5%\n"
    assert mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "50", "-q").out == ""
    doc = mreg("deploy", "m@1.0.3", "--env", "prod", "--traffic", "1", "--json").json
    # 50/45/5 scaled to 99: 49.5, 44.55, 4.95; the two missing points go to the largest fractions.
    assert doc["traffic"] == {"1.0.2": 49, "1.0.0": 45, "1.0.1": 5, "1.0.3": 1}
    assert sum(doc["traffic"].values()) == 100 and doc["from"] == {"1.0.2": 50, "1.0.0": 45, "1.0.1": 5}
    assert doc["name"] == "m" and doc["env"] == "prod" and doc["by"] == "tester@example.com" and doc["changed"]


def test_a_share_that_rounds_to_zero_leaves_and_is_reported(mreg, four):
    mreg("deploy", "m", "--env", "prod", "--split", "1.0.0=99,1.0.1=1")
    r = mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "60")
    assert r.out == "m in prod: 1.0.2 60%, 1.0.0 40%\n"
    assert "note: m@1.0.1 left prod (its share rounded to 0%)" in r.err
    r = mreg("deploy", "m@1.0.3", "--env", "prod", "--json")
    assert r.json["traffic"] == {"1.0.3": 100} and r.json["left"] == ["1.0.0", "1.0.2"]


def test_split_undeploy_and_rollback(mreg, four, project):
    mreg("deploy", "m", "--env", "prod", "--split", "1.0.0=90,1.0.1=10")
    r = mreg("deploy", "m", "--env", "prod", "--split", "v1.0.0=50, 1.0.1=30,1.0.2=20")
    assert r.out == "m in prod: 1.0.0 50%, 1.0.1 30%, 1.0.2 20%\n"
    assert mreg("undeploy", "m@1.0.0", "--env", "prod").out == "m in prod: 1.0.1 60%, 1.0.2 40%\n"
    assert mreg("deploy", "m", "--env", "prod", "--rollback").out == "m in prod: 1.0.0 50%, 1.0.1 30%, 1.0.2 20%\n"
    assert mreg("deploy", "m", "--env", "prod", "--rollback").out == "m in prod: 1.0.1 60%, 1.0.2 40%\n"
    mreg("undeploy", "m@1.0.1", "--env", "prod")
    assert mreg("undeploy", "m@1.0.2", "--env", "prod").out == "m in prod: no traffic\n"
    assert "deployments" not in _index(project)
    # Back from empty: the split before the last change, exactly.
    assert mreg("deploy", "m", "--env", "prod", "--rollback").out == "m in prod: 1.0.2 100%\n"
    events = [e for e in _history(project) if e["action"] in ("deploy", "undeploy")]
    assert events[-1]["details"] == {"env": "prod", "from": {}, "to": {"1.0.2": 100}, "rollback": True}
    assert mreg("verify", "--rebuild-index").code == 0


def test_deployments_lists_every_split_and_the_past(mreg, four):
    assert mreg("deployments").out == ""
    mreg("deploy", "m@1.0.0", "--env", "prod")
    first = mreg("deployments", "--json").json
    mreg("deploy", "m@1.0.1", "--env", "prod", "--traffic", "20")
    mreg("deploy", "m@1.0.1", "--env", "staging")
    r = mreg("deployments")
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        ("m", "prod", "1.0.0", "80%"), ("m", "prod", "1.0.1", "20%"), ("m", "staging", "1.0.1", "100%")]
    docs = mreg("deployments", "m", "--env", "prod", "--json").json
    assert [(d["env"], d["traffic"]) for d in docs] == [("prod", {"1.0.0": 80, "1.0.1": 20})]
    assert set(docs[0]) >= {"name", "env", "traffic", "since", "by", "drift"}
    assert mreg("deployments", "m", "--at", first[0]["since"], "--json").json == first
    assert mreg("deployments", "--at", "2000-01-01", "--json").json == []
    assert mreg("deployments", "m", "--env", "qa", "--json").json == []


def test_drift_is_flagged_where_the_environment_restricts_stages(mreg, four, project):
    with open(project / ".mreg" / "config.toml", "a") as handle:
        handle.write('\n[environments.prod]\nstages = ["production"]\n')
    r = _unchanged(mreg, project, "deploy", "m@1.0.1", "--env", "prod", expect=1)
    assert "m@1.0.1 is in development; prod takes only versions in production" in r.err
    mreg("deploy", "m@1.0.0", "--env", "prod")
    mreg("promote", "m@1.0.1", "--to", "production", "-q")  # supersedes 1.0.0, which keeps its traffic
    rows = [line.split("\t") for line in mreg("deployments", "m").out.splitlines()]
    assert rows[0][2:4] == ["1.0.0", "100%"] and rows[0][-1] == "drift: deprecated"
    doc = mreg("deployments", "--json").json[0]
    assert doc["drift"][0]["version"] == "1.0.0" and doc["drift"][0]["stage"] == "deprecated"
    r = mreg("deploy", "m@1.0.1", "--env", "prod", "--traffic", "50")
    assert "warning: drift: m@1.0.0 is in deprecated" in r.err


@pytest.mark.parametrize("args, code, message", [
    (("deploy", "m@1.0.1", "--env", "prod", "--traffic", "0"), 2, "--traffic: 0 is outside 1-100"),
    (("deploy", "m@1.0.1", "--env", "prod", "--traffic", "101"), 2, "outside 1-100"),
    (("deploy", "m@1.0.1", "--env", "prod", "--traffic", "12.5"), 2, "not a whole percentage"),
    (("deploy", "m@1.0.1", "--env", "prod", "--traffic", "ten"), 2, "not a whole percentage"),
    (("deploy", "m@1.0.1", "--env", "Prod"), 2, "invalid environment 'Prod'"),
    (("deploy", "m@1.0.1", "--env", "1prod"), 2, "invalid environment"),
    (("deploy", "m", "--env", "prod", "--split", "1.0.0=90,1.0.1=20"), 2, "sum to 110, not 100"),
    (("deploy", "m", "--env", "prod", "--split", "1.0.0=50,1.0.0=50"), 2, "1.0.0 is listed twice"),
    (("deploy", "m", "--env", "prod", "--split", "1.0.0=100,1.0.1=0"), 2, "outside 1-100"),
    (("deploy", "m", "--env", "prod", "--split", "1.0.0"), 2, "not VERSION=PCT"),
    (("deploy", "m", "--env", "prod", "--split", "1.0.0=50,9.0.0=50"), 1, "m has no version 9.0.0"),
    (("deploy", "m@1.0.0", "--env", "prod", "--split", "1.0.0=100"), 2, "--split takes a model name"),
    (("deploy", "m", "--env", "prod"), 2, "names a model, not a version"),
    (("deploy", "m@1.0.1", "--env", "prod", "--traffic", "5", "--rollback"), 2, "cannot be combined"),
    (("deploy", "m@7.0.0", "--env", "prod"), 1, "m has no version 7.0.0"),
    (("deploy", "nope@1.0.0", "--env", "prod"), 1, "no model named 'nope'"),
    (("deploy", "m@1.0.1", "--env", "qa", "--traffic", "10"), 1, "no other version of m to take the other 90%"),
    (("deploy", "m", "--env", "qa", "--rollback"), 1, "never been deployed to qa"),
    (("undeploy", "m@1.0.1", "--env", "prod"), 1, "m@1.0.1 receives no traffic in prod"),
    (("undeploy", "m", "--env", "prod"), 2, "names a model, not a version"),
    (("deployments", "m", "--format", "kserve"), 2, "give NAME and --env ENV"),
    (("deployments", "m", "--env", "prod", "--format", "helm"), 2, "unknown --format 'helm'"),
    (("deployments", "m", "--env", "qa", "--format", "json"), 1, "m receives no traffic in qa"),
    (("deployments", "m", "--at", "yesterday"), 2, "invalid time 'yesterday'"),
    (("deployments", "nope"), 1, "no model named 'nope'"),
    (("deployments", "--env", "PROD"), 2, "invalid environment"),
])
def test_bad_input_is_refused_with_its_rule_and_changes_nothing(mreg, four, project, args, code, message):
    four.deploy("m@1.0.0", "prod")
    r = _unchanged(mreg, project, *args, expect=code)
    assert message in r.err, r.err
    assert len(r.err.strip().splitlines()) <= 2


def test_archived_and_removed_versions_cannot_receive_traffic(mreg, four, project):
    mreg("transition", "m@1.0.3", "archived", "-q")
    r = _unchanged(mreg, project, "deploy", "m@1.0.3", "--env", "prod", expect=1)
    assert "m@1.0.3 is archived: an archived version cannot receive traffic" in r.err
    mreg("rm", "m@1.0.2", "-q")
    r = _unchanged(mreg, project, "deploy", "m", "--env", "prod", "--split", "1.0.0=50,1.0.2=50", expect=1)
    assert "m@1.0.2 was removed: a removed version cannot receive traffic" in r.err


def test_rm_refuses_a_serving_version_and_force_undeploys_it_first(mreg, four, project):
    mreg("deploy", "m@1.0.1", "--env", "prod")
    mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "10")
    r = _unchanged(mreg, project, "rm", "m@1.0.2", expect=1)
    assert "m@1.0.2 is held: 10% of traffic in prod" in r.err and "--force" in r.err
    _unchanged(mreg, project, "rm", "m", "--all", "--yes", expect=1)
    assert mreg("rm", "m@1.0.2", "--force", "--reason", "bad data").out == "removed m@1.0.2\n"
    assert [(e["action"], e["version"], e["reason"]) for e in _history(project)[-2:]] == [
        ("undeploy", "1.0.2", "bad data"), ("rm", "1.0.2", "bad data")]
    assert mreg("deployments", "m", "--json").json[0]["traffic"] == {"1.0.1": 100}
    assert mreg("verify", "--rebuild-index").code == 0


def test_gc_archived_cleanup_skips_a_version_that_serves(mreg, four, project):
    mreg("deploy", "m@1.0.1", "--env", "prod")
    for version in ("1.0.1", "1.0.2"):
        mreg("transition", f"m@{version}", "archived", "-q")
    report = mreg("gc", "--archived-older-than", "0s", "--json").json
    assert report["removed_versions"] == ["m@1.0.2"]
    assert "1.0.1" in _index(project)["versions"]


def test_promotion_and_stage_rollback_never_move_traffic(mreg, four):
    mreg("deploy", "m@1.0.0", "--env", "prod")
    before = mreg("deployments", "--json").json
    mreg("promote", "m@1.0.1", "--to", "production", "-q")
    mreg("rollback", "m", "-q")
    mreg("transition", "m@1.0.2", "archived", "-q")
    assert mreg("deployments", "--json").json == before


def test_export_to_kserve_sagemaker_and_json(mreg, four, project):
    mreg("deploy", "m@1.0.0", "--env", "prod")
    mreg("deploy", "m@1.0.1", "--env", "prod", "--traffic", "10")
    digest = {v: r["digest"].split(":")[1] for v, r in _index(project)["versions"].items()}
    objects = project / ".mreg" / "objects"
    isvc = mreg("deployments", "m", "--env", "prod", "--format", "kserve").json
    assert isvc["kind"] == "InferenceService" and isvc["metadata"]["name"] == "m"
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    uri = isvc["spec"]["predictor"]["model"]["storageUri"]
    assert uri == str(objects / digest["1.0.1"][:2] / digest["1.0.1"][2:])
    assert open(uri, "rb").read() == b"weights 1"
    variants = mreg("deployments", "m", "--env", "prod", "--format", "sagemaker").json["ProductionVariants"]
    assert variants == [{"VariantName": "v1-0-1", "ModelName": "m-1-0-1", "InitialVariantWeight": 10.0},
                        {"VariantName": "v1-0-0", "ModelName": "m-1-0-0", "InitialVariantWeight": 90.0}]
    doc = mreg("deployments", "m", "--env", "prod", "--format", "json").json
    assert [(v["version"], v["traffic"]) for v in doc["versions"]] == [("1.0.0", 90), ("1.0.1", 10)]
    mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "10")
    r = mreg("deployments", "m", "--env", "prod", "--format", "kserve", expect=1)
    assert "KServe cannot express this split: m has 3 versions in prod" in r.err
    assert r.out == ""


@pytest.mark.parametrize("table, message", [
    ('[environments.prod]\nstage = ["production"]\n', "environments.prod.stage: unknown key"),
    ('[environments.prod]\nstages = ["prod"]\n', "environments.prod.stages: unknown stage 'prod'"),
    ('[environments.prod]\nstages = "production"\n', "environments.prod.stages"),
    ('[environments.Prod]\nstages = ["production"]\n', "not an environment name"),
    ('environments = 3\n', "environments: not a table"),
])
def test_a_bad_environment_table_is_an_integrity_error_at_load(mreg, four, project, table, message):
    config = project / ".mreg" / "config.toml"
    text = config.read_text()
    config.write_text(table + text if table.startswith("environments =") else text + "\n" + table)
    r = mreg("deployments", expect=3)
    assert message in r.err
    mreg("deploy", "m@1.0.0", "--env", "qa", expect=3)


def test_a_protected_environment_takes_its_approvals_before_a_version_enters(mreg, four, project):
    with open(project / ".mreg" / "config.toml", "a") as handle:
        handle.write('\n[policy]\nadmins = ["root@example.com"]\n[policy.groups]\nleads = ["ann@example.com", '
                     '"bob@example.com"]\n[environments.prod]\napprovals = 2\napprovers = ["group:leads"]\n'
                     'self_approval = false\nexpire = "14d"\n')
    mreg("deploy", "m@1.0.0", "--env", "staging")  # an environment without a table takes none
    refused = _unchanged(mreg, project, "deploy", "m@1.0.1", "--env", "prod", expect=1)
    assert "cannot enter" in refused.err and "prod" in refused.err
    mreg("approve", "m@1.0.1", "--env", "prod", env={"MREG_USER": "ann@example.com"})
    _unchanged(mreg, project, "deploy", "m", "--env", "prod", "--split", "1.0.1=100", expect=1)
    mreg("approve", "m@1.0.1", "--env", "prod", env={"MREG_USER": "bob@example.com"})
    assert mreg("deploy", "m@1.0.1", "--env", "prod").out == "m in prod: 1.0.1 100%\n"
    # Only versions entering the environment need approvals: 1.0.1's share may change freely.
    _unchanged(mreg, project, "deploy", "m@1.0.2", "--env", "prod", "--traffic", "10", expect=1)
    _unchanged(mreg, project, "deploy", "m@1.0.2", "--env", "prod", "--traffic", "10", "--override",
               "--reason", "hotfix", expect=1)  # not an admin
    mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "10", "--override", "--reason", "hotfix",
         env={"MREG_USER": "root@example.com"})
    actions = [e["action"] for e in _history(project)]
    assert actions[-2:] == ["override", "deploy"]
    # Rolling the split back is exempt, as a stage rollback is.
    assert mreg("deploy", "m", "--env", "prod", "--rollback").out == "m in prod: 1.0.1 100%\n"
    mreg("verify", "--rebuild-index")


def test_deploy_if_checks_the_condition_under_the_lock(mreg, four, project):
    registry = four
    registry.update("m@1.0.0", metrics=["auc=0.90"])
    registry.update("m@1.0.1", metrics=["auc=0.85"])
    registry.update("m@1.0.2", metrics=["auc=0.95"])
    mreg("deploy", "m@1.0.0", "--env", "prod")
    refused = _unchanged(mreg, project, "deploy", "m@1.0.1", "--env", "prod", "--traffic", "10",
                         "--if", "metrics.auc > @production.metrics.auc", expect=1)
    assert "metrics.auc 0.85 > @production.metrics.auc 0.9: false" in refused.err
    doc = mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "10", "--if",
               "metrics.auc > @production.metrics.auc", "--json").json
    assert doc["traffic"] == {"1.0.0": 90, "1.0.2": 10}
    assert _history(project)[-1]["details"]["condition"]["passed"] is True
    unknown = _unchanged(mreg, project, "deploy", "m@1.0.3", "--env", "prod", "--if",
                         "metrics.auc > 0.5", expect=1)
    assert "unknown" in unknown.err
    mreg("deploy", "m@1.0.3", "--env", "prod", "--traffic", "5", "--if", "metrics.auc > 0.5", "--if-missing", "pass")
    _unchanged(mreg, project, "deploy", "m", "--env", "prod", "--split", "1.0.0=100", "--if", "size > 0", expect=2)
    _unchanged(mreg, project, "deploy", "m@1.0.1", "--env", "prod", "--if", "metrics.auc >", expect=2)
    mreg("verify", "--rebuild-index")


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.__setitem__("deployments", {"prod": {"traffic": {"1.0.0": 90}, "since": d["versions"]["1.0.0"]["created_at"], "by": "x"}}),
     "deployments.prod.traffic"),
    (lambda d: d.__setitem__("deployments", {"prod": {"traffic": {"9.9.9": 100}, "since": d["versions"]["1.0.0"]["created_at"], "by": "x"}}),
     "9.9.9 is not a version of the model"),
    (lambda d: d.__setitem__("deployments", {"PROD": {"traffic": {"1.0.0": 100}, "since": d["versions"]["1.0.0"]["created_at"], "by": "x"}}),
     "not an environment name"),
    (lambda d: d.__setitem__("deployments", {}), "deployments: not an object of environments"),
    (lambda d: d.__setitem__("deployments", {"prod": {"traffic": {"1.0.0": 100}, "since": "now", "by": "x"}}),
     "deployments.prod.since"),
])
def test_a_hand_edited_deployments_entry_is_an_integrity_error(mreg, four, project, edit, message):
    path = project / ".mreg" / "models" / "m" / "_index.json"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    r = mreg("deployments", expect=3)
    assert message in r.err and "Traceback" not in r.err


def test_eight_processes_deploying_at_once_lose_no_change(mreg, four, project):
    """Each process gives its own version a share of one environment at the same moment: every change
    is recorded, each event starts from the split the one before left, and every split sums to 100."""
    artifact = project / "m.bin"
    for i in range(4, 9):
        artifact.write_bytes(f"weights {i}".encode())
        mreg("register", "m", artifact, "-q")
    mreg("deploy", "m@1.0.0", "--env", "prod")
    versions = [f"1.0.{i}" for i in range(1, 9)]
    processes = [subprocess.Popen([sys.executable, "-m", "mreg", "deploy", f"m@{v}", "--env", "prod", "--traffic",
                                   str(5 + i), "--lock-timeout", "120", "--json"], cwd=project,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i, v in enumerate(versions)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    for p in processes:
        p.stdout.close()
        p.stderr.close()
    assert all(code == 0 for code, _, _ in results), results
    events = [e for e in _history(project) if e["action"] == "deploy"]
    assert len(events) == 1 + len(versions)
    assert sorted(e["version"] for e in events[1:]) == versions
    for earlier, later in zip(events, events[1:]):
        assert later["details"]["from"] == earlier["details"]["to"]  # no change lost in between
    for event in events:
        assert sum(event["details"]["to"].values()) == 100
    final = mreg("deployments", "m", "--json").json[0]["traffic"]
    assert final == events[-1]["details"]["to"] and sum(final.values()) == 100
    assert events[-1]["version"] in final
    assert mreg("verify", "--rebuild-index").code == 0


def test_a_rollback_that_would_give_a_removed_version_traffic_is_refused(mreg, four, project):
    mreg("deploy", "m@1.0.1", "--env", "prod")
    mreg("deploy", "m@1.0.2", "--env", "prod", "--traffic", "20")
    mreg("rm", "m@1.0.2", "--force", "-q")  # its last change in prod: the undeploy
    r = _unchanged(mreg, project, "deploy", "m", "--env", "prod", "--rollback", expect=1)
    assert "m@1.0.2 was removed: a removed version cannot receive traffic" in r.err


def test_history_shows_each_change_of_a_split(mreg, four):
    mreg("deploy", "m@1.0.0", "--env", "prod")
    mreg("deploy", "m@1.0.1", "--env", "prod", "--traffic", "10", "--reason", "canary")
    rows = [line.split("\t") for line in mreg("history", "m", "--limit", "2").out.splitlines()]
    assert [row[2:] for row in rows] == [
        ["deploy", "m", "1.0.1", "prod: 1.0.0 100%", "prod: 1.0.0 90%, 1.0.1 10%", "canary"],
        ["deploy", "m", "1.0.0", "prod: no traffic", "prod: 1.0.0 100%", ""],
    ]
    events = mreg("history", "m", "--action", "deploy", "--json").json
    assert [e["details"]["to"] for e in events] == [{"1.0.0": 90, "1.0.1": 10}, {"1.0.0": 100}]
