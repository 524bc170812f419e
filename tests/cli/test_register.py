"""`mreg register` through the real command line."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from mregtest import peak_rss_of, write_safetensors


def _objects(project) -> list[str]:
    found = []
    for folder, _, files in os.walk(project / ".mreg" / "objects"):
        found += [os.path.join(folder, f) for f in files]
    return sorted(found)


def _nothing_registered(mreg, project) -> None:
    # No index was written (so `mreg list` is empty) and no writer left temporary files.
    assert os.listdir(project / ".mreg" / "models") == []
    assert os.listdir(project / ".mreg" / "intake") == []


# --- versions ---------------------------------------------------------------
def test_first_version_then_patch_bumps_then_explicit_bumps(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    assert mreg("register", "m", "m.bin", "--json").json["version"] == "1.0.0"
    assert mreg("register", "m", "m.bin", "--json").json["version"] == "1.0.1"
    assert mreg("register", "m", "m.bin", "--bump", "minor", "--json").json["version"] == "1.1.0"
    assert mreg("register", "m", "m.bin", "--bump", "major", "--json").json["version"] == "2.0.0"
    assert mreg("register", "m", "m.bin", "--bump", "patch", "--json").json["version"] == "2.0.1"
    assert mreg("register", "m", "m.bin", "--version", "v10.0.0", "--json").json["version"] == "10.0.0"
    assert mreg("register", "m", "m.bin", "--version", "3.0.0-rc.1", "--json").json["version"] == "3.0.0-rc.1"
    # Bumps go from the highest version by semver, not by string order (10 > 3).
    assert mreg("register", "m", "m.bin", "--json").json["version"] == "10.0.1"
    assert [v["version"] for v in mreg("show", "m", "--json").json] == [
        "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.0.1", "3.0.0-rc.1", "10.0.0", "10.0.1"]


def test_an_existing_version_is_refused(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    mreg("register", "m", "m.bin", "--version", "1.2.0")
    r = mreg("register", "m", "m.bin", "--version", "v1.2.0", expect=1)
    assert "m@1.2.0 already exists" in r.err
    assert len(mreg("show", "m", "--json").json) == 1


@pytest.mark.parametrize("bad", ["1.2", "01.0.0", "1.0.0.0", "x.y.z"])
def test_an_invalid_version_is_a_usage_error(mreg, project, bad):
    (project / "m.bin").write_bytes(b"v1")
    r = mreg("register", "m", "m.bin", "--version", bad, expect=2)
    assert r.err.startswith("mreg: error: ") and "version" in r.err
    _nothing_registered(mreg, project)


def test_an_invalid_bump_is_a_usage_error(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    mreg("register", "m", "m.bin", "--bump", "huge", expect=2)
    _nothing_registered(mreg, project)


# --- metadata from options --------------------------------------------------
def test_metrics_params_tags_description_framework(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    doc = mreg("register", "m", "m.bin", "-m", "accuracy=0.93", "--metric", "loss=1", "-m", "delta=-2.5e-3",
               "-p", "lr=3e-4", "-p", "optimizer=adam", "--param", "layers=12", "-p", "fp16=true",
               "-t", "team=nlp", "--tag", "note=a=b", "--description", "first try", "--framework", "pytorch",
               "--json").json
    assert doc["metrics"] == {"accuracy": 0.93, "loss": 1, "delta": -0.0025}
    assert doc["params"] == {"lr": 0.0003, "optimizer": "adam", "layers": 12, "fp16": True}
    assert doc["tags"] == {"team": "nlp", "note": "a=b"}
    assert (doc["description"], doc["framework"]) == ("first try", "pytorch")
    assert mreg("show", "m@1.0.0", "--json").json == {**doc, "aliases": []}  # show adds the aliases


@pytest.mark.parametrize("metric", ["acc=high", "acc", "acc=nan", "acc=1_000"])  # more in tests/core/test_metadata.py
def test_metrics_must_be_numbers(mreg, project, metric):
    (project / "m.bin").write_bytes(b"v1")
    r = mreg("register", "m", "m.bin", "-m", metric, expect=2)
    assert r.err.count("\n") <= 2 and r.err.startswith("mreg: error:")
    _nothing_registered(mreg, project)


def test_datasets_local_files_and_folders_are_hashed_uris_recorded(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    (project / "train.csv").write_bytes(b"a,b\n1,2\n")
    (project / "images").mkdir()
    (project / "images" / "1.png").write_bytes(b"png")
    doc = mreg("register", "m", "m.bin", "--dataset", "train=train.csv", "--dataset", "images=images",
               "--dataset", "eval=s3://bucket/eval.parquet", "--dataset", "hub=hf://datasets/imdb", "--json").json
    sets = doc["datasets"]
    assert sets["train"]["digest"] == "sha256:" + hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert sets["train"]["size"] == 8 and sets["train"]["kind"] == "file"
    assert sets["images"]["kind"] == "directory" and sets["images"]["digest"].startswith("sha256:")
    assert sets["eval"] == {"uri": "s3://bucket/eval.parquet"}
    assert sets["hub"] == {"uri": "hf://datasets/imdb"}
    # Datasets are hashed for lineage, not stored: only the model's bytes are in the store.
    assert len(_objects(project)) == 1


def test_a_missing_local_dataset_is_a_usage_error(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    r = mreg("register", "m", "m.bin", "--dataset", "train=./missing.csv", expect=2)
    assert "missing.csv" in r.err
    mreg("register", "m", "m.bin", "--dataset", "train", expect=2)
    _nothing_registered(mreg, project)


# --- metadata files -----------------------------------------------------------
_DOCUMENT = {
    "description": "resnet-50 fine-tuned",
    "framework": "pytorch",
    "metrics": {"accuracy": 0.931, "f1": 0.9, "epochs_run": 12},
    "params": {"lr": 0.0003, "batch_size": 64, "schedule": [0.1, 0.01], "aug": {"flip": True}},
    "tags": {"team": "vision", "owner": "ana"},
    "datasets": {"imagenet": "s3://datasets/imagenet-1k"},
    "training": {"started": "2024-03-01T10:00:00Z", "finished": "2024-03-02T08:30:00Z", "gpus": 8},
    "input_shape": [1, 3, 224, 224],
    "output_shape": [1, 1000],
    "dependencies": ["torch==2.2.1", "torchvision==0.17.1", "numpy>=1.26,<2"],
    "notes": "ünïcödé ✓ and \"quotes\"",
    "big": 12345678901234567890123,
    "nothing": None,
}

_TOML = """
description = "resnet-50 fine-tuned"
framework = "pytorch"
input_shape = [1, 3, 224, 224]
output_shape = [1, 1000]
dependencies = ["torch==2.2.1", "torchvision==0.17.1", "numpy>=1.26,<2"]
notes = "ünïcödé ✓ and \\"quotes\\""
big = 12345678901234567890
[metrics]
accuracy = 0.931
f1 = 0.9
epochs_run = 12
[params]
lr = 0.0003
batch_size = 64
schedule = [0.1, 0.01]
aug = { flip = true }
[tags]
team = "vision"
owner = "ana"
[datasets]
imagenet = "s3://datasets/imagenet-1k"
[training]
started = 2024-03-01T10:00:00Z
finished = "2024-03-02T08:30:00Z"
gpus = 8
"""


def _custom(doc: dict) -> dict:
    return doc["metadata"]


def test_a_json_metadata_file_round_trips_exactly(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    (project / "meta.json").write_text(json.dumps(_DOCUMENT), encoding="utf-8")
    doc = mreg("register", "m", "m.bin", "--metadata-file", "meta.json", "--json").json
    for key in ("description", "framework", "metrics", "params", "tags"):
        assert doc[key] == _DOCUMENT[key]
    assert doc["datasets"] == {"imagenet": {"uri": "s3://datasets/imagenet-1k"}}
    custom = {k: v for k, v in _DOCUMENT.items() if k not in ("description", "framework", "metrics", "params",
                                                               "tags", "datasets")}
    assert _custom(doc) == custom
    assert mreg("show", "m@1.0.0", "--json").json == {**doc, "aliases": []}  # show adds the aliases


def test_a_toml_metadata_file_round_trips(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    (project / "meta.toml").write_text(_TOML, encoding="utf-8")
    doc = mreg("register", "m", "m.bin", "--metadata-file", "meta.toml", "--json").json
    for key in ("description", "framework", "metrics", "params", "tags"):
        assert doc[key] == _DOCUMENT[key]
    custom = _custom(doc)
    assert custom["dependencies"] == _DOCUMENT["dependencies"]
    assert custom["input_shape"] == [1, 3, 224, 224] and custom["output_shape"] == [1, 1000]
    assert custom["training"] == {"started": "2024-03-01T10:00:00Z", "finished": "2024-03-02T08:30:00Z", "gpus": 8}
    assert custom["notes"] == _DOCUMENT["notes"] and custom["big"] == 12345678901234567890


def test_options_override_the_metadata_file(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    (project / "meta.json").write_text(json.dumps(_DOCUMENT))
    doc = mreg("register", "m", "m.bin", "--metadata-file", "meta.json", "-m", "accuracy=0.5", "-t", "team=nlp",
               "--description", "override", "--json").json
    assert doc["metrics"] == {**_DOCUMENT["metrics"], "accuracy": 0.5}
    assert doc["tags"] == {"team": "nlp", "owner": "ana"}
    assert doc["description"] == "override"


@pytest.mark.parametrize(
    ("filename", "data", "fault"),
    [
        ("dup.json", b'{"metrics": {"a": 1, "a": 2}}', "duplicate key"),
        ("nan.json", b'{"metrics": {"a": NaN}}', "NaN"),
        ("utf.json", b'{"description": "\xff\xfe"}', "UTF-8"),
        ("utf.toml", b'description = "\xff"', "UTF-8"),
        ("dup.toml", b"a = 1\na = 2\n", "TOML"),
        ("metric.json", b'{"metrics": {"a": "high"}}', "number"),
        ("tag.json", b'{"tags": {"a": 1}}', "text"),
        ("deep.json", b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}", "nested"),
        ("missing.json", None, "cannot read"),
    ],
)
def test_bad_metadata_files_are_usage_errors_naming_the_file(mreg, project, filename, data, fault):
    (project / "m.bin").write_bytes(b"v1")
    if data is not None:
        (project / filename).write_bytes(data)
    r = mreg("register", "m", "m.bin", "--metadata-file", filename, expect=2)
    assert filename in r.err and fault in r.err
    assert len(r.err.strip().splitlines()) <= 2
    _nothing_registered(mreg, project)


def test_a_folder_as_metadata_file_is_a_usage_error(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    (project / "meta.json").mkdir()
    r = mreg("register", "m", "m.bin", "--metadata-file", "meta.json", expect=2)
    assert "meta.json" in r.err


# --- lineage -------------------------------------------------------------------
def _git(project, *args):
    subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args], cwd=project, check=True,
                   capture_output=True)


def test_lineage_records_git_commit_dirty_flag_and_user(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    (project / "train.py").write_text("print('train')\n")
    outside = mreg("register", "m", "m.bin", "--json").json
    assert "git_commit" not in outside["lineage"]
    assert outside["created_by"] == "tester@example.com" and outside["lineage"]["user"] == "tester@example.com"

    _git(project, "init", "-q")
    _git(project, "add", "train.py")
    _git(project, "commit", "-q", "-m", "train")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    clean = mreg("register", "m", "m.bin", "--json", env={"MREG_USER": "ana@example.com"}).json
    assert clean["lineage"]["git_commit"] == head and clean["lineage"]["git_dirty"] is False
    assert clean["created_by"] == "ana@example.com"

    (project / "train.py").write_text("print('changed')\n")
    (project / "sub").mkdir()
    dirty = mreg("register", "m", "../m.bin", "--json", cwd=project / "sub").json
    assert dirty["lineage"]["git_commit"] == head and dirty["lineage"]["git_dirty"] is True
    events = mreg("history", "m", "--json").json
    assert {e["user"] for e in events} == {"tester@example.com", "ana@example.com"}


# --- stages, locks, output ----------------------------------------------------
def test_register_with_stage_walks_the_promotion_path(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    doc = mreg("register", "m", "m.bin", "--stage", "production", "--json").json
    assert doc["stage"] == "production"
    steps = [(e["from"], e["to"]) for e in reversed(mreg("history", "m", "--json").json)]
    assert steps == [(None, "development"), ("development", "testing"), ("testing", "staging"),
                     ("staging", "production")]


@pytest.mark.parametrize(("stage", "code"), [("archived", 1), ("nosuch", 2)])
def test_register_with_an_unreachable_stage_registers_nothing(mreg, project, stage, code):
    (project / "m.bin").write_bytes(b"v1")
    r = mreg("register", "m", "m.bin", "--stage", stage, expect=code)
    if stage == "archived":
        assert "promotion path" in r.err and "(new)" not in r.err
    _nothing_registered(mreg, project)


def test_lock_timeout_names_the_holder_and_registers_nothing(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    lock = project / ".mreg" / "lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (project / ".mreg" / "lock.json").write_text(json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "command": "mreg gc"}))
        started = time.monotonic()
        r = mreg("register", "m", "m.bin", "--lock-timeout", "0.3", expect=4)
        assert time.monotonic() - started < 20
        assert f"pid {os.getpid()}" in r.err and socket.gethostname() in r.err
        assert mreg("list", "--json").json == []
    finally:
        os.close(fd)
    (project / ".mreg" / "lock.json").unlink()
    mreg("register", "m", "m.bin", "--lock-timeout", "0")
    mreg("register", "m", "m.bin", "--lock-timeout", "-1", expect=2)
    mreg("register", "m", "m.bin", "--lock-timeout", "soon", expect=2)


def test_quiet_and_json_and_plain_output(mreg, project):
    (project / "m.bin").write_bytes(b"v1")
    r = mreg("register", "m", "m.bin", "-q")
    assert r.out == "" and r.err == ""
    r = mreg("register", "m", "m.bin")
    assert "m@1.0.1" in r.out and "sha256:" in r.out and r.out.count("\n") == 1
    r = mreg("register", "m", "m.bin", "--json")
    assert json.loads(r.out)["version"] == "1.0.2" and r.err == ""


def test_a_missing_artifact_is_refused(mreg, project):
    r = mreg("register", "m", "nope.bin", expect=1)
    assert "nope.bin" in r.err
    _nothing_registered(mreg, project)


def test_a_special_file_or_an_empty_folder_is_not_an_artifact(mreg, project):
    os.mkfifo(project / "pipe")
    (project / "empty").mkdir()
    mreg("register", "m", "pipe", expect=2)
    mreg("register", "m", "empty", expect=2)
    _nothing_registered(mreg, project)


# --- names (SPEC §1) ------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "rule"),
    [("../escape", "'..'"), ("a/../../b", "'..'"), ("/abs/name", "absolute"), ("", "empty"),
     ("a" * 201, "200"), ("bad\x01name", "control"), ("bad\nname", "control"), ("Sentiment", "upper case"),
     ("a//b", "empty segment"), (".hidden", "must start")],
)
def test_invalid_names_are_usage_errors_and_create_nothing(mreg, project, name, rule):
    (project / "m.bin").write_bytes(b"v1")
    r = mreg("register", name, "m.bin", expect=2)
    assert rule in r.err and r.err.startswith("mreg: error: invalid model name")
    if name == "Sentiment":
        assert "'sentiment'" in r.err
    _nothing_registered(mreg, project)
    assert _objects(project) == []
    assert not (project.parent / "escape").exists() and not os.path.exists("/abs/name")


def test_nested_names_are_kept_apart(mreg, project):
    (project / "a.bin").write_bytes(b"a")
    (project / "b.bin").write_bytes(b"b")
    mreg("register", "team", "a.bin")
    mreg("register", "team/model", "b.bin")
    assert [r["name"] for r in mreg("list", "--json").json] == ["team", "team/model"]
    assert mreg("show", "team/model", "--json").json[0]["size"] == 1


# --- directories, links, special files (SPEC §7) --------------------------------
def test_directory_with_links_and_special_files_is_refused_listing_every_offender(mreg, project, tmp_path):
    tree = project / "model"
    (tree / "sub").mkdir(parents=True)
    (tree / "weights.bin").write_bytes(b"w")
    (tmp_path / "secret").write_bytes(b"outside")
    os.symlink("weights.bin", tree / "inside-link")
    os.symlink(str(tmp_path / "secret"), tree / "sub" / "outside-link")
    os.symlink("gone", tree / "dangling")
    os.mkfifo(tree / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tree / "sock"))
    try:
        r = mreg("register", "m", "model", expect=2)
    finally:
        server.close()
    for offender in ("sub/outside-link", "dangling", "fifo (FIFO)", "sock (socket)"):
        assert offender in r.err
    assert "5 entries" not in r.err and "4 entries" in r.err
    assert "inside-link" not in r.err and "--follow-symlinks" in r.err
    _nothing_registered(mreg, project)
    assert _objects(project) == []


def test_inside_links_are_stored_as_bytes_and_follow_symlinks_stores_outside_targets(mreg, project, tmp_path):
    tree = project / "snapshot"
    (tree / "blobs").mkdir(parents=True)
    (tree / "blobs" / "abc").write_bytes(b"inside bytes")
    os.symlink("blobs/abc", tree / "model.bin")
    doc = mreg("register", "m", "snapshot", "--json").json
    assert doc["files"] == 2 and doc["size"] == 24
    (tmp_path / "cache-blob").write_bytes(b"cached")
    os.symlink(str(tmp_path / "cache-blob"), tree / "extra.bin")
    mreg("register", "m", "snapshot", expect=2)
    doc = mreg("register", "m", "snapshot", "--follow-symlinks", "--json").json
    assert doc["files"] == 3 and doc["version"] == "1.0.1"
    out = project / "out"
    mreg("get", "m@1.0.1", "-o", "out")
    assert (out / "extra.bin").read_bytes() == b"cached" and not (out / "extra.bin").is_symlink()
    assert (out / "model.bin").read_bytes() == b"inside bytes" and not (out / "model.bin").is_symlink()


# --- the store through register --------------------------------------------------
def test_file_digest_matches_sha256sum_and_objects_are_sharded_read_only(mreg, project):
    data = os.urandom(100_000)
    (project / "m.bin").write_bytes(data)
    doc = mreg("register", "m", "m.bin", "--json").json
    sha = subprocess.run(["sha256sum", "m.bin"], cwd=project, capture_output=True, text=True).stdout.split()[0]
    assert doc["digest"] == f"sha256:{sha}"
    assert (doc["kind"], doc["size"], doc["files"]) == ("file", 100_000, 1)
    stored = project / ".mreg" / "objects" / sha[:2] / sha[2:]
    assert _objects(project) == [str(stored)]
    assert stored.stat().st_mode & 0o777 == 0o444
    source = (project / "m.bin").stat()
    assert source.st_nlink == 1 and stored.stat().st_nlink == 1 and stored.stat().st_ino != source.st_ino


def test_identical_bytes_are_stored_once_across_models_and_versions(mreg, project):
    (project / "a.bin").write_bytes(b"shared weights")
    (project / "b.bin").write_bytes(b"shared weights")
    (project / "dir").mkdir()
    (project / "dir" / "w.bin").write_bytes(b"shared weights")
    (project / "dir" / "config.json").write_bytes(b"{}")
    mreg("register", "one", "a.bin")
    mreg("register", "one", "b.bin")
    mreg("register", "two", "b.bin")
    assert len(_objects(project)) == 1
    d1 = mreg("register", "three", "dir", "--json").json
    d2 = mreg("register", "four", "dir", "--json").json
    assert d1["digest"] == d2["digest"]
    assert len(_objects(project)) == 3  # the shared bytes, config.json, one manifest


def test_a_directory_version_points_at_its_manifest(mreg, project):
    tree = project / "model"
    (tree / "tok").mkdir(parents=True)
    (tree / "config.json").write_bytes(b'{"a": 1}')
    (tree / "tok" / "vocab.txt").write_bytes(b"a\nb\n")
    (tree / "serve.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(tree / "serve.sh", 0o755)
    doc = mreg("register", "m", "model", "--json").json
    assert (doc["kind"], doc["files"], doc["size"]) == ("directory", 3, 8 + 4 + 10)
    hexdigest = doc["digest"].removeprefix("sha256:")
    raw = (project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == hexdigest
    entries = {e["path"]: e for e in json.loads(raw)["files"]}
    assert set(entries) == {"config.json", "tok/vocab.txt", "serve.sh"}
    assert entries["serve.sh"]["executable"] is True and entries["config.json"]["executable"] is False
    assert entries["tok/vocab.txt"] == {"path": "tok/vocab.txt", "size": 4, "executable": False,
                                        "digest": "sha256:" + hashlib.sha256(b"a\nb\n").hexdigest()}


def test_register_streams_in_constant_memory(mreg, project):
    size = 256 << 20
    with open(project / "big.bin", "wb") as handle:
        handle.truncate(size)  # sparse: cheap to make, read at full speed
        handle.seek(size // 2)
        handle.write(os.urandom(4096))
    peak = peak_rss_of(project, "register", "big", "big.bin", "--json")
    assert peak < 128 << 20, f"register of a {size >> 20} MiB file peaked at {peak >> 20} MiB"
    assert mreg("show", "big", "--json").json[0]["size"] == size


def test_facts_are_recorded(mreg, project):
    count = write_safetensors(project / "model.safetensors", {"w": ("F32", [3, 4]), "b": ("F16", [4])})
    doc = mreg("register", "st", "model.safetensors", "--json").json
    assert (doc["format"], doc["parameters"], doc["dtypes"]) == ("safetensors", count, ["F16", "F32"])
    hf = project / "hf"
    hf.mkdir()
    (hf / "config.json").write_text('{"model_type": "bert"}')
    n1 = write_safetensors(hf / "model-00001-of-00002.safetensors", {"a": ("F32", [10, 10])})
    n2 = write_safetensors(hf / "model-00002-of-00002.safetensors", {"b": ("BF16", [7])})
    doc = mreg("register", "hf", "hf", "--json").json
    assert (doc["format"], doc["parameters"], doc["dtypes"]) == ("huggingface", n1 + n2, ["BF16", "F32"])
    (project / "m.onnx").write_bytes(b"\x08\x07")
    assert mreg("register", "onnx", "m.onnx", "--json").json["format"] == "onnx"


def test_registering_the_project_folder_leaves_the_registry_out(mreg, project):
    (project / "weights.bin").write_bytes(b"w")
    (project / "src").mkdir()
    (project / "src" / "train.py").write_bytes(b"print()")
    r = mreg("register", "whole", ".", "--json")
    assert r.json["files"] == 2 and "left out .mreg/" in r.err
    mreg("get", "whole", "-o", "copy")
    assert sorted(os.listdir(project / "copy")) == ["src", "weights.bin"]
    for inside in (".mreg", ".mreg/models"):
        assert "inside the registry" in mreg("register", "bad", inside, expect=2).err
    assert [m["name"] for m in mreg("list", "--json").json] == ["whole"]


class _Booby:
    """Unpickling this creates a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_never_unpickled(mreg, project, tmp_path):
    import pickle

    marker = tmp_path / "UNPICKLED"
    (project / "model.pkl").write_bytes(pickle.dumps(_Booby(str(marker))))
    (project / "dir").mkdir()
    (project / "dir" / "model.joblib").write_bytes(pickle.dumps(_Booby(str(marker))))
    assert mreg("register", "p", "model.pkl", "--json").json["format"] == "pickle"
    assert mreg("register", "j", "dir", "--json").json["format"] == "joblib"
    mreg("show", "p@1.0.0")
    mreg("get", "p", "-o", "copy.pkl")
    mreg("get", "j", "-o", "copy")
    mreg("verify")
    assert not marker.exists()
    assert (project / "copy.pkl").read_bytes() == (project / "model.pkl").read_bytes()


def test_a_dataset_folder_holding_the_registry_leaves_the_registry_out(mreg, project):
    (project / "m.bin").write_bytes(b"model")
    first = mreg("register", "a", "m.bin", "--dataset", "d=.", "--json").json["datasets"]["d"]
    second = mreg("register", "b", "m.bin", "--dataset", "d=.", "--json").json["datasets"]["d"]
    # The registry changed between the two registers; the project's own files did not.
    assert first["digest"] == second["digest"] and first["size"] == len(b"model")


def test_version_and_bump_together_is_a_usage_error_not_a_silently_ignored_bump(mreg, project, registry):
    (project / "m.bin").write_bytes(b"model")
    mreg("register", "m", "m.bin")
    r = mreg("register", "m", "m.bin", "--version", "3.0.0", "--bump", "minor", expect=2)
    assert r.err.startswith("mreg: error:") and "--bump" in r.err
    assert [d["version"] for d in mreg("show", "m", "--json").json] == ["1.0.0"]
    import mreg as api

    with pytest.raises(api.MregError):
        registry.register("m", str(project / "m.bin"), version="3.0.0", bump="minor")
    assert mreg("register", "m", "m.bin", "--bump", "minor", "--json").json["version"] == "1.1.0"
    assert registry.register("m", str(project / "m.bin"))["version"] == "1.1.1"


def test_a_single_file_inside_the_registry_is_refused_like_a_folder_there(mreg, project):
    (project / "m.bin").write_bytes(b"model")
    digest = mreg("register", "m", "m.bin", "--json").json["digest"].removeprefix("sha256:")
    for inside in (".mreg/config.toml", f".mreg/objects/{digest[:2]}/{digest[2:]}"):
        assert "inside the registry" in mreg("register", "bad", inside, expect=2).err, inside
    assert [m["name"] for m in mreg("list", "--json").json] == ["m"]


@pytest.mark.parametrize(("pre", "bump", "expected"), [
    ("2.0.0-rc.1", "major", "2.0.0"), ("2.0.0-rc.1", "minor", "2.0.0"), ("2.0.0-rc.1", "patch", "2.0.0"),
    ("1.2.0-beta", "major", "2.0.0"), ("1.2.0-beta", "minor", "1.2.0"), ("1.2.0-beta", "patch", "1.2.0"),
    ("1.2.3-beta", "major", "2.0.0"), ("1.2.3-beta", "minor", "1.3.0"), ("1.2.3-beta", "patch", "1.2.3"),
])
def test_a_bump_from_a_prerelease_releases_it_when_it_is_the_version_reached(mreg, project, pre, bump, expected):
    # 2.0.0-rc.1 then --bump major is the 2.0.0 release, not 3.0.0 (npm's rule, already applied to patch).
    (project / "m.bin").write_bytes(b"v1")
    mreg("register", "m", "m.bin", "--version", pre)
    assert mreg("register", "m", "m.bin", "--bump", bump, "--json").json["version"] == expected
