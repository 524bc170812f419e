"""`mreg verify`: re-hash artifacts; exit 3 naming each damaged object and every version it affects."""

from __future__ import annotations

import hashlib
import json
import os


def _object(project, data: bytes):
    hexdigest = hashlib.sha256(data).hexdigest()
    return project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:], "sha256:" + hexdigest


def _flip_byte(path, offset: int = 0) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def _setup(mreg, project) -> None:
    (project / "shared.bin").write_bytes(b"shared weights " * 100)
    (project / "solo.bin").write_bytes(b"only in c")
    tree = project / "model"
    tree.mkdir()
    (tree / "weights.bin").write_bytes(b"shared weights " * 100)
    (tree / "config.json").write_bytes(b"{}")
    mreg("register", "a", "shared.bin")
    mreg("register", "b", "model")
    mreg("register", "c", "solo.bin")


def test_a_sound_registry_verifies(mreg, project):
    assert mreg("verify", "--json").json == {"ok": True, "checked": {"models": 0, "versions": 0, "objects": 0,
                                                                    "bytes": 0}, "problems": []}
    _setup(mreg, project)
    r = mreg("verify")
    assert r.out.startswith("ok:") and "3 versions" in r.out
    report = mreg("verify", "--json").json
    assert report["ok"] is True and report["problems"] == []
    assert report["checked"]["versions"] == 3 and report["checked"]["objects"] == 4  # shared, solo, config, manifest
    assert mreg("verify", "-q").out == ""
    assert mreg("verify", "b@1.0.0", "--json").json["checked"]["versions"] == 1


def test_a_flipped_byte_in_a_shared_object_names_every_affected_version(mreg, project):
    _setup(mreg, project)
    path, digest = _object(project, b"shared weights " * 100)
    _flip_byte(path, 700)
    r = mreg("verify", "--json", expect=3)
    report = r.json
    assert report["ok"] is False
    (problem,) = report["problems"]
    assert problem["object"] == digest
    assert "corrupt" in problem["problem"]
    assert problem["versions"] == ["a@1.0.0", "b@1.0.0"]
    assert r.err.startswith("mreg: error: 1 problem found")
    plain = mreg("verify", expect=3).out
    assert digest in plain and "a@1.0.0" in plain and "b@1.0.0" in plain and "c@1.0.0" not in plain
    # Verifying one unaffected version is fine; an affected one is not.
    mreg("verify", "c@1.0.0")
    assert mreg("verify", "b", "--json", expect=3).json["problems"][0]["versions"] == ["b@1.0.0"]


def test_a_deleted_object_is_named_with_its_versions(mreg, project):
    _setup(mreg, project)
    path, digest = _object(project, b"only in c")
    path.unlink()
    report = mreg("verify", "--json", expect=3).json
    (problem,) = report["problems"]
    assert (problem["object"], problem["problem"], problem["versions"]) == (digest, "missing", ["c@1.0.0"])


def test_a_damaged_manifest_names_the_directory_version(mreg, project):
    _setup(mreg, project)
    doc = mreg("show", "b@1.0.0", "--json").json
    hexdigest = doc["digest"].removeprefix("sha256:")
    _flip_byte(project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:], 3)
    report = mreg("verify", "--json", expect=3).json
    (problem,) = report["problems"]
    assert problem["object"] == doc["digest"] and problem["versions"] == ["b@1.0.0"]


def test_several_problems_are_all_reported(mreg, project):
    _setup(mreg, project)
    _object(project, b"only in c")[0].unlink()
    _flip_byte(_object(project, b"{}")[0])
    report = mreg("verify", "--json", expect=3).json
    assert sorted(v for p in report["problems"] for v in p["versions"]) == ["b@1.0.0", "c@1.0.0"]
    assert "2 problems found" in mreg("verify", expect=3).err


def test_an_edited_history_is_caught(mreg, project):
    _setup(mreg, project)
    history = project / ".mreg" / "models" / "a" / "_history.jsonl"
    history.write_text(history.read_text().replace("tester@example.com", "mallory@example.com"))
    report = mreg("verify", "--json", expect=3).json
    (problem,) = report["problems"]
    assert "history" in problem["problem"] and problem["versions"] == ["a@*"]


def test_verify_of_an_unknown_version_is_not_found(mreg, project):
    _setup(mreg, project)
    mreg("verify", "a@2.0.0", expect=1)
    mreg("verify", "nosuch", expect=1)


def test_a_hand_damaged_index_record_is_an_integrity_error_everywhere(mreg, project):
    _setup(mreg, project)
    index_path = project / ".mreg" / "models" / "a" / "_index.json"
    index = json.loads(index_path.read_text())
    del index["versions"]["1.0.0"]["kind"]
    index_path.write_text(json.dumps(index))
    report = mreg("verify", "--json", expect=3).json
    (problem,) = report["problems"]
    assert problem["file"].endswith("models/a/_index.json") and problem["versions"] == ["a@*"]
    assert "kind" in problem["problem"]
    for args in (("show", "a"), ("get", "a", "-o", "out"), ("list",)):
        r = mreg(*args, expect=3)
        assert "index of model a is damaged" in r.err and "Traceback" not in r.err
    index["versions"]["1.0.0"] = "not a record"
    index_path.write_text(json.dumps(index))
    assert mreg("verify", "--json", expect=3).json["problems"][0]["versions"] == ["a@*"]
    mreg("verify", "c@1.0.0")  # other models are untouched


def test_verify_summary_counts_in_the_singular_and_the_plural(mreg, project):
    (project / "m.bin").write_bytes(b"model")
    mreg("register", "m", "m.bin")
    assert mreg("verify").out.startswith("ok: checked 1 version, 1 object, ")
    (project / "n.bin").write_bytes(b"other")
    mreg("register", "m", "n.bin")
    assert mreg("verify").out.startswith("ok: checked 2 versions, 2 objects, ")


def test_verify_name_checks_every_version_of_that_model_only(mreg, project):
    (project / "one.bin").write_bytes(b"first version")
    (project / "two.bin").write_bytes(b"second version")
    (project / "other.bin").write_bytes(b"another model")
    mreg("register", "m", "one.bin")
    mreg("register", "m", "two.bin")
    mreg("register", "o", "other.bin")
    path, digest = _object(project, b"first version")  # the older version, not m@latest
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    report = mreg("verify", "m", "--json", expect=3).json
    assert report["checked"]["versions"] == 2 and report["checked"]["models"] == 1
    assert [p["versions"] for p in report["problems"]] == [["m@1.0.0"]]
    mreg("verify", "m@latest")
    mreg("verify", "o")
    mreg("verify", "nosuch", expect=1)


def test_rebuild_index_reports_an_index_its_history_does_not_give(mreg, project):
    _setup(mreg, project)
    mreg("promote", "a@1.0.0", "--to", "production")
    mreg("update", "a@1.0.0", "-m", "acc=0.5")
    assert mreg("verify", "--rebuild-index").out.startswith("ok: ")
    index_path = project / ".mreg" / "models" / "a" / "_index.json"
    index = json.loads(index_path.read_text())
    index["versions"]["1.0.0"]["metrics"]["acc"] = 0.9  # a sound index, but not the one the history wrote
    index_path.write_text(json.dumps(index))
    mreg("verify")  # nothing the other checks see
    r = mreg("verify", "--rebuild-index", expect=3)
    assert "models/a/_index.json: differs from the index its history rebuilds: versions.1.0.0.metrics.acc" in r.out
    assert "(affects a@*)" in r.out and "1 problem found" in r.err
    assert index_path.read_text() == json.dumps(index)  # it writes nothing
