"""remote add/list/remove, push, pull and clone, against each real remote kind (real processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mregtest import Mreg


def opts(options: dict) -> list[str]:
    return [arg for key, value in options.items() for arg in ("--option", f"{key}={value}")]


def registry(tmp_path: Path, name: str) -> Mreg:
    folder = tmp_path / name
    folder.mkdir()
    run = Mreg(folder)
    run("init", "-q")
    return run


def fill(run: Mreg, count: int = 3, model: str = "sentiment") -> None:
    artifact = run.cwd / "model.bin"
    for i in range(count):
        artifact.write_bytes(f"{model} weights {i}".encode())
        run("register", model, artifact, "-q", "-m", f"accuracy=0.9{i}", "-t", f"run=r{i}")
    if count > 1:
        run("promote", f"{model}@1.0.1", "--to", "production", "-q", "--reason", "best")


def views(run: Mreg) -> dict:
    """What a reader sees: list, show, search and history, as JSON."""
    return {
        "list": run("list", "--json").json,
        "show": {n["name"]: run("show", n["name"], "--json").json for n in run("list", "--json").json},
        "search": run("search", "metrics.accuracy > 0", "--json").json,
        "history": run("history", "--json").json,
    }


def test_remote_add_list_remove(tmp_path, remote):
    url, options = remote()
    run = registry(tmp_path, "a")
    added = run("remote", "add", "origin", url, *opts(options), "--json").json
    assert added["created"] is True and added["exclusive_create"] is True
    run("remote", "add", "backup", url, *opts(options), "-q")  # an existing remote registry is used as it is
    assert run("remote", "list", "--json").json == [
        {"name": "origin", "url": added["url"], "default": True},
        {"name": "backup", "url": added["url"], "default": False},
    ]
    again = run("remote", "add", "origin", url, *opts(options), expect=1)
    assert "already exists" in again.err
    run("remote", "remove", "backup", "-q")
    assert [r["name"] for r in run("remote", "list", "--json").json] == ["origin"]
    assert "no remote named" in run("remote", "remove", "backup", expect=1).err


def test_remote_errors(tmp_path):
    run = registry(tmp_path, "a")
    assert "unknown remote URL scheme" in run("remote", "add", "x", "ftp://host/path", expect=2).err
    # The gcs extra is installed where the GCS tests run: a gcsfs that cannot
    # be imported, first on the path, stands in for a missing one.
    hidden = tmp_path / "no-gcsfs" / "gcsfs"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'gcsfs'\", name='gcsfs')\n")
    path = os.pathsep.join(filter(None, [str(hidden.parent), os.environ.get("PYTHONPATH")]))
    missing = run("remote", "add", "x", "gs://bucket/path", expect=2, env={"PYTHONPATH": path}).err
    assert "pip install 'mreg[gcs]'" in missing and "gcsfs is not installed" in missing
    assert "invalid remote name" in run("remote", "add", "Bad/Name", str(tmp_path / "r"), expect=2).err
    assert "remote add needs a NAME and a URL" in run("remote", "add", expect=2).err
    assert "unknown remote action" in run("remote", "frobnicate", expect=2).err
    assert "has no remote" in run("push", expect=1).err
    assert "has no remote" in run("pull", expect=1).err
    assert "no mreg remote registry" in run("clone", str(tmp_path / "nothing"), str(tmp_path / "c"), expect=1).err
    assert not (tmp_path / "c").exists()


def test_clone_gives_identical_views_and_lazy_get_is_byte_identical(tmp_path, remote):
    url, options = remote()
    origin = registry(tmp_path, "a")
    fill(origin)
    fill(origin, 2, "team/segmenter")
    folder = origin.cwd / "tree"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(os.urandom(4096))
    (folder / "config.json").write_text("{}")
    origin("register", "tree", folder, "-q")
    origin("remote", "add", "origin", url, *opts(options), "-q")
    pushed = origin("push", "--json").json
    assert pushed["pushed"] == {"sentiment": 6, "team/segmenter": 5, "tree": 1} and pushed["rejected"] == []
    assert pushed["objects"] == 8  # five files, the tree's two files and its manifest

    full = Mreg(tmp_path)("clone", url, tmp_path / "full", *opts(options), "--json").json
    assert full["objects"] == 8
    lazy = Mreg(tmp_path)("clone", url, tmp_path / "lazy", *opts(options), "--lazy", "-q")
    assert lazy.out == ""
    for name in ("full", "lazy"):
        assert views(Mreg(tmp_path / name)) == views(origin)
    lazy_run = Mreg(tmp_path / "lazy")
    assert not list((tmp_path / "lazy" / ".mreg" / "objects").rglob("*"))
    lazy_run("get", "sentiment@production", "-o", tmp_path / "got.bin")
    assert (tmp_path / "got.bin").read_bytes() == b"sentiment weights 1"
    lazy_run("get", "tree@latest", "-o", tmp_path / "tree-out")
    assert (tmp_path / "tree-out" / "sub" / "w.bin").read_bytes() == (folder / "sub" / "w.bin").read_bytes()
    lazy_run("verify", "-q")
    Mreg(tmp_path / "full")("verify", "--rebuild-index", "-q")


def test_pull_renumbers_a_bumped_version_and_refuses_an_explicit_one(tmp_path, remote):
    url, options = remote()
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    Mreg(tmp_path)("clone", url, tmp_path / "b", *opts(options), "-q")
    b = Mreg(tmp_path / "b")
    (a.cwd / "model.bin").write_bytes(b"from a")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("push", "-q")
    (b.cwd / "model.bin").write_bytes(b"from b")
    b("register", "sentiment", b.cwd / "model.bin", "-q")
    b("promote", "sentiment@1.0.1", "-q")
    assert "run `mreg pull`" in b("push", expect=1).err
    rejected = b("push", "--json", expect=1)
    assert rejected.json["rejected"] == ["sentiment"] and "run `mreg pull`" in rejected.err
    pulled = b("pull", "--json").json
    assert pulled["renumbered"] == [{"name": "sentiment", "from": "1.0.1", "to": "1.0.2"}]
    assert b("show", "sentiment@1.0.2", "--json").json["stage"] == "testing"
    assert b("show", "sentiment@1.0.1", "--json").json["digest"] == a("show", "sentiment@1.0.1", "--json").json["digest"]
    b("push", "-q")
    a("pull", "-q")
    assert views(a) == views(b)
    b("verify", "--rebuild-index", "-q")

    # An explicit --version that the remote took meanwhile: exit 1, both sides named, nothing changed.
    (a.cwd / "model.bin").write_bytes(b"explicit a")
    a("register", "sentiment", a.cwd / "model.bin", "--version", "2.0.0", "-q")
    a("push", "-q")
    (b.cwd / "model.bin").write_bytes(b"explicit b")
    b("register", "sentiment", b.cwd / "model.bin", "--version", "2.0.0", "-q")
    before = {p: p.read_bytes() for p in (b.cwd / ".mreg" / "models").rglob("*") if p.is_file()}
    refused = b("pull", expect=1)
    assert "sentiment@2.0.0" in refused.err and "--version" in refused.err
    assert refused.err.count("sha256:") == 2
    assert {p: p.read_bytes() for p in (b.cwd / ".mreg" / "models").rglob("*") if p.is_file()} == before


def test_push_rebase(tmp_path, remote):
    url, options = remote()
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    Mreg(tmp_path)("clone", url, tmp_path / "b", *opts(options), "-q")
    b = Mreg(tmp_path / "b")
    (a.cwd / "model.bin").write_bytes(b"a2")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("push", "-q")
    (b.cwd / "model.bin").write_bytes(b"b2")
    b("register", "sentiment", b.cwd / "model.bin", "-q")
    report = b("push", "--rebase", "--json").json
    assert report["pushed"] == {"sentiment": 1} and report["rejected"] == []
    assert report["renumbered"] == [{"name": "sentiment", "from": "1.0.1", "to": "1.0.2"}]
    a("pull", "-q")
    assert [v["version"] for v in a("show", "sentiment", "--json").json] == ["1.0.0", "1.0.1", "1.0.2"]


def test_nothing_to_push_or_pull(tmp_path, folder_remote):
    url, options = folder_remote()
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    assert "nothing to push" in a("push").err
    assert "already up to date" in a("pull").err
    assert a("push", "--json").json["pushed"] == {}


def test_a_long_push_is_split_into_entries_a_reader_accepts(tmp_path, folder_remote):
    url, _ = folder_remote()
    a = registry(tmp_path, "a")
    artifact = a.cwd / "model.bin"
    metadata = a.cwd / "meta.json"
    for i in range(6):  # about 5 MiB of events: more than one entry holds
        artifact.write_bytes(f"weights {i}".encode())
        metadata.write_text(json.dumps({"notes": f"{i}" + "x" * 900_000}))
        a("register", "big", artifact, "--metadata-file", metadata, "-q")
    a("remote", "add", "origin", url, "-q")
    assert a("push", "--json").json["pushed"] == {"big": 6}
    entries = sorted((Path(url) / "models" / "big" / "_log").iterdir())
    assert len(entries) >= 2 and all(e.stat().st_size < 16 << 20 for e in entries)
    Mreg(tmp_path)("clone", url, tmp_path / "b", "-q")
    assert views(Mreg(tmp_path / "b")) == views(a)


def test_pull_re_applies_local_aliases_deploys_and_approvals_on_top(tmp_path, folder_remote):
    url, options = folder_remote()
    a = registry(tmp_path, "a")
    fill(a, 2)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    Mreg(tmp_path)("clone", url, tmp_path / "b", "-q")
    b = Mreg(tmp_path / "b")
    with open(b.cwd / ".mreg" / "config.toml", "a") as handle:
        handle.write('\n[policy.stages.staging]\napprovals = 1\n')
    (a.cwd / "model.bin").write_bytes(b"from a")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("deploy", "sentiment@1.0.1", "--env", "canary", "-q")
    a("push", "-q")
    # b's own 1.0.2 (taken on the remote by a's), pointed at, deployed and approved before b pulls.
    (b.cwd / "model.bin").write_bytes(b"from b")
    b("register", "sentiment", b.cwd / "model.bin", "-q")
    b("alias", "sentiment@1.0.2", "challenger", "-q")
    b("deploy", "sentiment@1.0.1", "--env", "prod", "-q")
    b("deploy", "sentiment@1.0.2", "--env", "prod", "--traffic", "10", "-q")
    b("approve", "sentiment@1.0.2", "--stage", "staging", "-q", env={"MREG_USER": "ann@example.com"})
    pulled = b("pull", "--json").json
    assert pulled["renumbered"] == [{"name": "sentiment", "from": "1.0.2", "to": "1.0.3"}]
    assert {x["alias"]: x["version"] for x in b("alias", "sentiment", "--json").json} == {"challenger": "1.0.3"}
    splits = {d["env"]: d["traffic"] for d in b("deployments", "sentiment", "--json").json}
    assert splits == {"canary": {"1.0.1": 100}, "prod": {"1.0.1": 90, "1.0.3": 10}}
    [approval] = b("approvals", "sentiment@1.0.3", "--json").json["approvals"]
    assert approval["version"] == "1.0.3" and approval["by"] == "ann@example.com"
    b("verify", "--rebuild-index", "-q")
    b("push", "-q")
    a("pull", "-q")
    assert views(a) == views(b)
    assert a("deployments", "--json").json == b("deployments", "--json").json
    a("verify", "--rebuild-index", "-q")

    # Both change prod's split: the second to pull is refused, names the environment, and changes nothing.
    a("deploy", "sentiment@1.0.0", "--env", "prod", "--traffic", "50", "-q")
    a("push", "-q")
    b("undeploy", "sentiment@1.0.3", "--env", "prod", "-q")
    index = (b.cwd / ".mreg" / "models" / "sentiment" / "_index.json").read_bytes()
    refused = b("pull", expect=1)
    assert "prod" in refused.err and "changed on the remote" in refused.err
    assert (b.cwd / ".mreg" / "models" / "sentiment" / "_index.json").read_bytes() == index
