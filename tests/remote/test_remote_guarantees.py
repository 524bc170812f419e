"""What remotes guarantee: untrusted data refused, no-op pushes that cost nothing, concurrent writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mregtest import Mreg
from reliability.rel import scale

from .test_remotes import fill, opts, registry


def pushed_remote(tmp_path: Path, url: str) -> Mreg:
    a = registry(tmp_path, "a")
    fill(a, 2)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    return a


def tree_outside(tmp_path: Path, clone: str) -> set:
    return {p for p in tmp_path.rglob("*") if clone not in p.parts}


@pytest.mark.parametrize("damage", ["wrong-prev", "edited-event", "deep", "oversized-name", "bad-name", "object",
                                    "oversized", "traversal-file-name"])
def test_a_hostile_remote_is_refused_and_nothing_is_written_outside(tmp_path, damage):
    url = str(tmp_path / "remote")
    pushed_remote(tmp_path, url)
    root = Path(url)
    entry = root / "models" / "sentiment" / "_log" / "00000001.json"
    document = json.loads(entry.read_bytes())
    if damage == "wrong-prev":
        document["prev"] = "sha256:" + "1" * 64
        entry.chmod(0o644)
        entry.write_text(json.dumps(document))
    elif damage == "edited-event":
        document["events"][0]["details"]["record"]["digest"] = "sha256:" + "2" * 64
        entry.chmod(0o644)
        entry.write_text(json.dumps(document))
    elif damage == "deep":
        document["events"][0]["details"]["x"] = json.loads("[" * 200 + "]" * 200)
        entry.chmod(0o644)
        entry.write_text(json.dumps(document))
    elif damage == "oversized-name":
        target = root / "models" / Path(*["abcdefghij"] * 25) / "_log"  # 274 characters
        target.mkdir(parents=True)
        (target / "00000001.json").write_text("{}")
    elif damage == "bad-name":
        target = root / "models" / "Evil" / "_log"
        target.mkdir(parents=True)
        (target / "00000001.json").write_text("{}")
    elif damage == "oversized":
        entry.chmod(0o644)
        entry.write_bytes(b" " * (17 << 20))
    elif damage == "traversal-file-name":
        record = document["events"][0]["details"]["record"]
        record["filename"] = "../../outside.bin"
        from mreg.core.history import hash_of  # resealed, so only the file name is wrong
        event = document["events"][0]
        event["hash"] = hash_of(event)
        for later in document["events"][1:]:
            later["prev"] = event["hash"]
            later["hash"] = hash_of(later)
            event = later
        entry.chmod(0o644)
        entry.write_text(json.dumps(document))
    elif damage == "object":
        digest = document["events"][0]["details"]["record"]["digest"][7:]
        obj = root / "objects" / digest[:2] / digest[2:]
        obj.chmod(0o644)
        obj.write_bytes(b"not what its name says")
    before = tree_outside(tmp_path, "clone")
    done = Mreg(tmp_path)("clone", url, tmp_path / "clone", expect=3)
    assert done.err.startswith("mreg: error: ") and "Traceback" not in done.err
    assert not (tmp_path / "clone").exists()  # a failed clone leaves nothing
    assert tree_outside(tmp_path, "clone") == before


def test_a_pull_refuses_a_corrupt_object_and_stores_nothing(tmp_path):
    url = str(tmp_path / "remote")
    a = pushed_remote(tmp_path, url)
    Mreg(tmp_path)("clone", url, tmp_path / "b", "-q")
    b = Mreg(tmp_path / "b")
    (a.cwd / "model.bin").write_bytes(b"new weights")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("push", "-q")
    digest = a("show", "sentiment@latest", "--json").json["digest"][7:]
    obj = Path(url) / "objects" / digest[:2] / digest[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"tampered")
    assert "corrupt" in b("pull", expect=3).err
    assert not (tmp_path / "b" / ".mreg" / "objects" / digest[:2] / digest[2:]).exists()
    assert [v["version"] for v in b("show", "sentiment", "--json").json] == ["1.0.0", "1.0.1"]
    b("verify", "-q")


_COUNT = r"""
import json, sys
import mreg.core.remote.backends as backends
from mreg.core.remote.folder import FolderStorage

calls = []
class Counted(FolderStorage):
    pass
for method in ("create", "put_file", "read", "get_file", "exists", "size", "list", "delete"):
    def wrap(name=method):
        original = getattr(FolderStorage, name)
        def counted(self, *args, **kwargs):
            calls.append(name)
            return original(self, *args, **kwargs)
        return counted
    setattr(Counted, method, wrap())
backends.open_storage = lambda url, options=None: Counted(url, options)
import mreg
report = mreg.open(sys.argv[1]).push()
print(json.dumps({"calls": calls, "pushed": report["pushed"]}))
"""


def test_a_push_with_nothing_to_send_costs_O1_requests_per_model(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    models = 5
    for i in range(models):
        fill(a, 2, f"m{i}")
    a("remote", "add", "origin", url, "-q")
    first = json.loads(subprocess.run([sys.executable, "-c", _COUNT, str(a.cwd)], capture_output=True, text=True,
                                      check=True).stdout)
    assert len(first["pushed"]) == models and "list" not in first["calls"]
    again = json.loads(subprocess.run([sys.executable, "-c", _COUNT, str(a.cwd)], capture_output=True, text=True,
                                      check=True).stdout)
    assert again["pushed"] == {}
    assert "list" not in again["calls"]  # the remote's objects are never listed
    assert len(again["calls"]) <= 1 + models  # the marker, and at most one call per model


def _rebase_push(cwd: Path, round_: int) -> subprocess.Popen:
    (cwd / "model.bin").write_bytes(f"{cwd.name} round {round_}".encode())
    script = ("import subprocess, sys\n"
              "subprocess.run([sys.executable, '-m', 'mreg', 'register', 'shared', 'model.bin', '-q'], check=True)\n"
              "sys.exit(subprocess.run([sys.executable, '-m', 'mreg', 'push', '--rebase', '-q']).returncode)\n")
    return subprocess.Popen([sys.executable, "-c", script], cwd=cwd, stderr=subprocess.PIPE, text=True)


def test_eight_clones_push_rebase_at_once(tmp_path, remote):
    url, options = remote()
    a = registry(tmp_path, "a")
    fill(a, 1, "shared")
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    writers = [tmp_path / f"w{i}" for i in range(8)]
    for folder in writers:
        Mreg(tmp_path)("clone", url, folder, *opts(options), "-q")
    rounds = scale(2, 10)
    for round_ in range(rounds):
        procs = [_rebase_push(folder, round_) for folder in writers]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
    a("pull", "-q")
    versions = a("show", "shared", "--json").json
    digests = [v["digest"] for v in versions]
    assert len(versions) == 1 + 8 * rounds and len(set(digests)) == len(digests)
    a("verify", "--rebuild-index", "-q")
    for folder in writers:
        Mreg(folder)("pull", "-q")
        assert Mreg(folder)("show", "shared", "--json").json == versions
