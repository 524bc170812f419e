"""The schema of every JSON document read back from `.mreg/` (mreg.core.schema), and
the readers and writers that apply it: each wrong field is named, never a crash."""

from __future__ import annotations

import copy
import json

import pytest

from mreg.core import schema
from mreg.core.config import default_config, parse_lifecycle
from mreg.core.history import GENESIS, append, check_chain, read_events, seal
from mreg.core.index import parse_model
from mreg.errors import IntegrityError

DIGEST = "sha256:" + "a" * 64
TIME = "2026-01-31T12:00:00.000000Z"
RECORD = {
    "version": "1.0.0", "stage": "development", "digest": DIGEST, "kind": "file", "size": 2, "files": 1,
    "created_at": TIME, "created_by": "me", "description": "", "framework": "", "metrics": {"acc": 0.9},
    "params": {"lr": [1, 2]}, "tags": {"team": "x"}, "datasets": {"train": {"uri": "s3://x"}}, "format": None,
    "parameters": None, "dtypes": [], "filename": "a.bin", "lineage": {"user": "me"}, "metadata": {},
    "stage_changed_at": TIME,
}
MODEL = {"format": 1, "name": "m", "versions": {"1.0.0": RECORD}, "released": [], "removed": [],
         "history": {"events": 1, "bytes": 478, "head": "sha256:" + "b" * 64}}


def model(**changes) -> dict:
    doc = copy.deepcopy(MODEL)
    doc.update(changes)
    return doc


def record(**changes) -> dict:
    doc = model()
    doc["versions"]["1.0.0"].update(changes)
    return doc


def test_a_sound_index_passes():
    assert schema.model_fault(model(), "m") is None
    assert parse_model(json.dumps(model()).encode(), "/x/_index.json", "m") == model()


@pytest.mark.parametrize("doc, field", [
    (record(metrics=[]), "versions.1.0.0.metrics"),
    (record(metrics=None), "versions.1.0.0.metrics"),
    (record(tags=None), "versions.1.0.0.tags"),
    (record(params=[]), "versions.1.0.0.params"),
    (record(datasets=None), "versions.1.0.0.datasets"),
    (record(datasets={"train": "s3://x"}), "versions.1.0.0.datasets.train"),
    (record(metrics={"acc": True}), "versions.1.0.0.metrics.acc"),
    (record(metrics={"acc": float("nan")}), "versions.1.0.0.metrics.acc"),
    (record(metrics={"acc": float("-inf")}), "versions.1.0.0.metrics.acc"),
    (record(tags={"team": 5}), "versions.1.0.0.tags.team"),
    (record(stage_changed_at=5), "versions.1.0.0.stage_changed_at"),
    (record(created_at="2026-01-31"), "versions.1.0.0.created_at"),
    (record(size=True), "versions.1.0.0.size"),
    (record(files=-1), "versions.1.0.0.files"),
    (record(digest="sha256:" + "A" * 64), "versions.1.0.0.digest"),
    (record(kind=None), "versions.1.0.0.kind"),
    (record(stage=""), "versions.1.0.0.stage"),
    (record(version="1.0.1"), "versions.1.0.0.version"),
    (record(dtypes=[5]), "versions.1.0.0.dtypes"),
    (record(parameters=1.5), "versions.1.0.0.parameters"),
    (record(filename=["a"]), "versions.1.0.0.filename"),
    (record(lineage={"git_commit": 5}), "versions.1.0.0.lineage.git_commit"),
    (record(description="\ud800"), "versions.1.0.0.description"),
    (model(versions={"1.0": RECORD}), "versions.1.0"),
    (model(versions=[]), "versions"),
    (model(released=5), "released"),
    (model(released=["x"]), "released"),
    (model(removed=None), "removed"),
    (model(removed=["1.0.0"]), "removed"),
    (model(history=[]), "history"),
    (model(history={"events": -1, "bytes": 478, "head": DIGEST}), "history.events"),
    (model(history={"events": "1", "bytes": 478, "head": DIGEST}), "history.events"),
    (model(history={"events": 1, "bytes": -1, "head": DIGEST}), "history.bytes"),
    (model(history={"events": 1, "bytes": 1, "head": DIGEST}), "history.bytes"),
    (model(history={"events": 1, "bytes": 478, "head": "x"}), "history.head"),
    (model(history={"events": 1, "bytes": 478, "head": GENESIS}), "history.bytes"),
    (model(history={"events": 0, "bytes": 478, "head": DIGEST}), "history.events"),
    (model(history={"events": 0, "bytes": 0, "head": GENESIS}), "history.events"),
    (model(name=5), "name"),
])
def test_each_wrong_field_of_an_index_is_named(doc, field):
    fault = schema.model_fault(doc, "m")
    assert fault is not None and fault.startswith(field + ":"), fault
    with pytest.raises(IntegrityError) as caught:
        parse_model(json.dumps(doc).encode(), "/r/.mreg/models/m/_index.json", "m")
    assert "/r/.mreg/models/m/_index.json" in caught.value.message and field in caught.value.message


@pytest.mark.parametrize("data", [b"[" * 100_000 + b"]" * 100_000, b"[]", b"5", b"null", b'{"format": "1"}',
                                  b'{"format": 0}', b'{"format": true}', b"\xff"])
def test_an_index_that_is_not_an_index_document_is_an_integrity_error(data):
    with pytest.raises(IntegrityError, match="_index.json"):
        parse_model(data, "/r/.mreg/models/m/_index.json", "m")


def test_an_index_from_a_newer_mreg_says_so():
    with pytest.raises(IntegrityError, match="unknown to this mreg"):
        parse_model(json.dumps(model(format=2)).encode(), "/x/_index.json", "m")


# --- history events -------------------------------------------------------------------

def event(seq: int = 1, prev: str = GENESIS, **changes) -> dict:
    body = {"time": TIME, "user": "me", "action": "register", "name": "m", "version": "1.0.0", "from": None,
            "to": "development", "reason": "", "details": {}}
    body.update(changes)
    return seal(body, prev, seq)


@pytest.mark.parametrize("field, value", [
    ("time", 5), ("time", "yesterday"), ("user", None), ("action", "erase"), ("name", 5), ("name", "other"),
    ("version", 5), ("from", []), ("to", {}), ("reason", None), ("details", []), ("details", None),
])
def test_each_wrong_field_of_an_event_is_named(tmp_path, field, value):
    sealed = event(**{field: value})
    assert schema.event_fault(sealed, "m").startswith(field + ":")
    path = str(tmp_path / "_history.jsonl")
    append(path, 0, [sealed], count=0, head=GENESIS)
    with pytest.raises(IntegrityError, match=f"_history.jsonl is damaged at event 1: {field}:"):
        read_events(path, 1, sealed["hash"], "m")


@pytest.mark.parametrize("details, fault", [
    ({"alias": "champion", "before": None, "after": "1.0.0"}, None),
    ({"alias": "champion", "before": "1.0.0", "after": None}, None),
    ({"alias": "champion", "before": "1.0.0", "after": "1.0.1"}, None),
    ({"alias": "Champion", "before": None, "after": "1.0.0"}, "details.alias"),
    ({"alias": ["x"], "before": None, "after": "1.0.0"}, "details.alias"),
    ({"before": None, "after": "1.0.0"}, "details.alias"),
    ({"alias": "champion", "after": "1.0.0"}, "details.before"),
    ({"alias": "champion", "before": None, "after": "v1.0.0"}, "details.after"),
    ({"alias": "champion", "before": None, "after": 1}, "details.after"),
    ({"alias": "champion", "before": None, "after": None}, "details: an alias event with no version"),
])
def test_the_details_of_an_alias_event_are_checked_when_read(details, fault):
    found = schema.event_fault(event(action="alias", to=None, details=details), "m")
    assert (found is None) if fault is None else found.startswith(fault), found


@pytest.mark.parametrize("field", ["version", "from", "to"])
def test_an_event_without_a_field_that_may_be_null_is_named(field):
    # Every event mreg writes has these keys (null where they do not apply);
    # readers such as `mreg history` use them without asking.
    sealed = event()
    del sealed[field]
    assert schema.event_fault(sealed, "m").startswith(field + ": missing")


def test_a_resealed_event_holding_a_lone_surrogate_is_damage_not_a_crash(tmp_path):
    # A forger can write "\ud800" (valid JSON, not valid text) and reseal the chain.
    forged = event()
    forged["\ud800"] = forged.pop("seq")
    del forged["hash"]
    forged = seal({k: v for k, v in forged.items() if k != "prev"}, GENESIS, 1)
    del forged["seq"]
    path = tmp_path / "_history.jsonl"
    path.write_text(json.dumps(forged) + "\n")  # ASCII escapes: the file itself is sound
    assert check_chain(str(path), 1, forged["hash"]) is not None  # a fault named, not a UnicodeEncodeError
    with pytest.raises(IntegrityError, match="damaged at event 1"):
        read_events(str(path), 1, forged["hash"], "m")


@pytest.mark.parametrize("line", [b"{}", b"[]", b"5", b"null", b"[" * 100_000 + b"]" * 100_000])
def test_a_history_line_that_is_no_event_is_an_integrity_error(tmp_path, line):
    path = tmp_path / "_history.jsonl"
    path.write_bytes(line + b"\n")
    with pytest.raises(IntegrityError, match="damaged at event 1"):
        read_events(str(path), 1)


def test_read_events_checks_sequence_and_head(tmp_path):
    first = event()
    second = event(2, first["hash"])
    path = str(tmp_path / "_history.jsonl")
    append(path, 0, [first, second], count=0, head=GENESIS)
    assert read_events(path, 2, second["hash"], "m") == [first, second]
    with pytest.raises(IntegrityError, match="history.head"):
        read_events(path, 2, first["hash"], "m")
    path2 = str(tmp_path / "b.jsonl")
    append(path2, 0, [second, first], count=0, head=GENESIS)
    with pytest.raises(IntegrityError, match="seq"):
        read_events(path2, 2)


# --- the writer's check of the committed part ------------------------------------------

def test_append_refuses_after_an_edit_of_the_committed_part(tmp_path):
    first = event()
    path = tmp_path / "_history.jsonl"
    size = append(str(path), 0, [first], count=0, head=GENESIS)
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"reason":""', b'"reason":"longer"'))
    edited = path.read_bytes()
    with pytest.raises(IntegrityError, match="changed after event 1"):
        append(str(path), size, [event(2, first["hash"])], count=1, head=first["hash"])
    assert path.read_bytes() == edited  # nothing truncated, nothing appended


def test_append_refuses_when_the_index_counts_fewer_bytes(tmp_path):
    first = event()
    second = event(2, first["hash"])
    path = tmp_path / "_history.jsonl"
    size = append(str(path), 0, [first, second], count=0, head=GENESIS)
    before = path.read_bytes()
    with pytest.raises(IntegrityError, match="changed after event 2"):
        append(str(path), size - 5, [event(3, second["hash"])], count=2, head=second["hash"])
    with pytest.raises(IntegrityError, match="changed after event"):
        append(str(path), size, [event(3, second["hash"])], count=2, head=first["hash"])
    assert path.read_bytes() == before


def test_append_after_a_long_last_event_reads_back_far_enough(tmp_path):
    first = event(reason="x" * 100_000)
    path = tmp_path / "_history.jsonl"
    size = append(str(path), 0, [first], count=0, head=GENESIS)
    second = event(2, first["hash"])
    new_size = append(str(path), size, [second], count=1, head=first["hash"])
    assert read_events(str(path), 2, second["hash"], "m") == [first, second]
    assert new_size == len(path.read_bytes())


def test_append_still_drops_an_uncommitted_tail(tmp_path):
    first = event()
    path = tmp_path / "_history.jsonl"
    size = append(str(path), 0, [first], count=0, head=GENESIS)
    with open(path, "ab") as handle:
        handle.write(b'{"time": "crash')
    second = event(2, first["hash"])
    append(str(path), size, [second], count=1, head=first["hash"])
    assert read_events(str(path), 2, second["hash"], "m") == [first, second]


# --- manifests, lock.json, cache summaries -----------------------------------------------

ENTRY = {"path": "a/b.bin", "digest": DIGEST, "size": 2, "executable": False}


@pytest.mark.parametrize("doc, expected", [
    ({"format": 1, "files": [ENTRY]}, None),
    ([], "not a JSON object"),
    ({"format": 2, "files": [ENTRY]}, "format:"),
    ({"format": 1, "files": {}}, "files:"),
    ({"format": 1, "files": [5]}, "files[1]:"),
    ({"format": 1, "files": [dict(ENTRY, path="a\ud800")]}, "files[1].path: unsafe path"),
    ({"format": 1, "files": [dict(ENTRY, path="../x")]}, "files[1].path: unsafe path"),
    ({"format": 1, "files": [dict(ENTRY, path=5)]}, "files[1].path"),
    ({"format": 1, "files": [dict(ENTRY, digest="x")]}, "files[1].digest"),
    ({"format": 1, "files": [dict(ENTRY, size="2")]}, "files[1].size"),
    ({"format": 1, "files": [dict(ENTRY, executable=1)]}, "files[1].executable"),
    ({"format": 1, "files": [ENTRY, ENTRY]}, "files[2].path: lists"),
    ({"format": 1, "files": [ENTRY, dict(ENTRY, path="a")]}, "files[2].path: 'a' is used both"),
    ({"format": 1, "files": [dict(ENTRY, path="a"), ENTRY]}, "files: 'a' is used both"),
])
def test_manifest_faults_are_named(doc, expected):
    fault = schema.manifest_fault(doc, 1)
    assert fault == expected if expected is None else fault.startswith(expected), fault


@pytest.mark.parametrize("info, ok", [
    ({"pid": 42, "host": "h", "since": 1.5e9, "command": "mreg gc"}, True),
    ({"pid": 42, "host": "h", "since": 1.5e9}, True),
    ({"pid": 0, "host": "h", "since": 1.5e9}, False),
    ({"pid": True, "host": "h", "since": 1.5e9}, False),
    ({"pid": 10**30, "host": "h", "since": 1.5e9}, False),
    ({"pid": 42, "host": 5, "since": 1.5e9}, False),
    ({"pid": 42, "host": "h", "since": float("nan")}, False),
    ({"pid": 42, "host": "h", "since": 1e300}, False),
    ({"pid": 42, "host": "h", "since": 1.5e9, "command": []}, False),
    ([], False),
])
def test_lock_info(info, ok):
    assert (schema.lock_info_fault(info) is None) == ok


def test_cache_summaries():
    good = {"versions": 1, "latest": "1.0.0", "first_in_stage": {"production": "1.0.0"}, "updated_at": TIME}
    assert schema.summary_fault(good) is None and schema.summary_fault(None) is None
    for bad in ({**good, "versions": -1}, {**good, "first_in_stage": {"production": 5}},
                {**good, "updated_at": 5}, {**good, "latest": None}, []):
        assert schema.summary_fault(bad) is not None


# --- config.toml: roles that break an exclusive stage -------------------------------------

@pytest.mark.parametrize("key, value", [
    ("retired", "production"), ("archived", "production"), ("initial", "production"), ("archived", "staging"),
])
def test_a_lifecycle_that_breaks_its_promises_is_refused(key, value):
    table = default_config()["lifecycle"]
    table[key] = value
    with pytest.raises(IntegrityError, match=f"lifecycle.{key}"):
        parse_lifecycle(table)


def test_retiring_into_the_release_stage_is_refused_even_when_not_exclusive():
    table = default_config()["lifecycle"]
    table.update(exclusive=[], retired="production")
    with pytest.raises(IntegrityError, match="lifecycle.retired"):
        parse_lifecycle(table)


@pytest.mark.parametrize("details, field", [
    ({"from": {}, "to": {"1.0.0": 100}}, "details.env"),
    ({"env": "Prod", "from": {}, "to": {"1.0.0": 100}}, "details.env"),
    ({"env": "prod", "to": {"1.0.0": 100}}, "details.from"),
    ({"env": "prod", "from": {}, "to": {"1.0.0": 90}}, "details.to"),
    ({"env": "prod", "from": {}, "to": {"1.0.0": 100.0}}, "details.to"),
    ({"env": "prod", "from": {"latest": 100}, "to": {}}, "details.from"),
    ({"env": "prod", "from": {}, "to": {"1.0.0": 101, "1.1.0": -1}}, "details.to"),
])
@pytest.mark.parametrize("action", ["deploy", "undeploy"])
def test_a_deploy_event_with_wrong_details_is_named(tmp_path, action, details, field):
    sealed = event(action=action, to=None, details=details)
    assert schema.event_fault(sealed, "m").startswith(field + ":")
    path = str(tmp_path / "_history.jsonl")
    append(path, 0, [sealed], count=0, head=GENESIS)
    with pytest.raises(IntegrityError, match=f"damaged at event 1: {field}:"):
        read_events(path, 1, sealed["hash"], "m")


def test_a_sound_deploy_event_passes():
    sealed = event(action="deploy", to=None, details={"env": "eu-west_2", "from": {"1.0.0": 100},
                                                      "to": {"1.0.0": 90, "1.1.0": 10}, "rollback": True})
    assert schema.event_fault(sealed, "m") is None
# --- approvals: the index's `approvals` and the details of their events ------------------

APPROVAL = {"id": 1, "decision": "approve", "version": "1.0.0", "stage": "production", "by": "alice", "at": TIME,
            "reason": "", "digest": DIGEST, "expires_at": None}


def test_sound_approvals_pass():
    assert schema.model_fault(model(approvals=[APPROVAL, {**APPROVAL, "id": 2, "void_at": TIME,
                                                         "void_reason": "metadata changed by update"}])) is None
    assert schema.event_fault(event(action="approve", details={"record": APPROVAL, "withdraws": []}), "m") is None
    assert schema.event_fault(event(action="void", details={"ids": [1]}), "m") is None
    assert schema.event_fault(event(action="override", details={"stage": "production", "missing": ["x"],
                                                                "approvals": []}), "m") is None


@pytest.mark.parametrize("change, field", [
    ({"id": 0}, "approvals[0].id"), ({"id": "1"}, "approvals[0].id"), ({"decision": "maybe"}, "approvals[0].decision"),
    ({"version": "1.0"}, "approvals[0].version"), ({"by": 5}, "approvals[0].by"), ({"by": ""}, "approvals[0].by"),
    ({"at": "now"}, "approvals[0].at"), ({"digest": "x"}, "approvals[0].digest"),
    ({"expires_at": "soon"}, "approvals[0].expires_at"), ({"void_at": 1}, "approvals[0].void_at"),
    ({"env": "prod"}, "approvals[0]"), ({"stage": None}, "approvals[0].stage"),
])
def test_each_wrong_field_of_an_approval_is_named(change, field):
    fault = schema.model_fault(model(approvals=[{**APPROVAL, **change}]))
    assert fault is not None and fault.startswith(field), fault


@pytest.mark.parametrize("approvals, fault", [
    ([], "approvals: not a non-empty list"), ({}, "approvals: not a non-empty list"),
    ([APPROVAL, APPROVAL], "approvals[1].id: 1 is used twice"),
])
def test_an_approvals_list_that_is_not_one_is_named(approvals, fault):
    assert schema.model_fault(model(approvals=approvals)).startswith(fault)


@pytest.mark.parametrize("action, details, field", [
    ("approve", {"withdraws": []}, "details.record"),
    ("approve", {"record": {**APPROVAL, "decision": "reject"}, "withdraws": []}, "details.record.decision"),
    ("reject", {"record": {**APPROVAL, "decision": "reject"}, "withdraws": ["1"]}, "details.withdraws"),
    ("void", {"ids": []}, "details.ids"), ("void", {}, "details.ids"),
    ("override", {"missing": "all"}, "details.missing"),
])
def test_each_wrong_detail_of_an_approval_event_is_named(action, details, field):
    assert schema.event_fault(event(action=action, details=details), "m").startswith(field)
