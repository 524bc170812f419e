"""`--repo URL` / `MREG_REPO=URL`: every command directly on a remote, through a cached lazy clone."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from mregtest import Mreg

from .test_remotes import fill, registry, views


def test_commands_work_directly_on_a_remote(tmp_path, monkeypatch):
    monkeypatch.setenv("MREG_CACHE_DIR", str(tmp_path / "cache"))
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 3)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    elsewhere = Mreg(tmp_path)
    assert elsewhere("--repo", url, "list", "--json").json == a("list", "--json").json
    (tmp_path / "new.bin").write_bytes(b"direct")
    doc = elsewhere("--repo", url, "register", "sentiment", tmp_path / "new.bin", "--json").json
    assert doc["version"] == "1.0.3"
    elsewhere("--repo", f"file://{url}", "promote", "sentiment@1.0.3", "--to", "production", "-q")
    a("pull", "-q")
    assert a("show", "sentiment@production", "--json").json["version"] == "1.0.3"
    elsewhere("get", "sentiment@1.0.3", "-o", tmp_path / "got.bin", env={"MREG_REPO": url})
    assert (tmp_path / "got.bin").read_bytes() == b"direct"
    refused = elsewhere("--repo", url, "register", "sentiment", tmp_path / "new.bin", "--version", "1.0.3", expect=1)
    assert "already exists" in refused.err
    a("verify", "--rebuild-index", "-q")


def test_eight_writers_promote_directly_one_production_holder(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    artifact = a.cwd / "model.bin"
    for i in range(8):
        artifact.write_bytes(f"candidate {i}".encode())
        a("register", "model", artifact, "-q")
        a("promote", f"model@1.0.{i}", "--to", "staging", "-q")
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    procs = []
    for i in range(8):
        env = dict(os.environ, MREG_CACHE_DIR=str(tmp_path / f"cache{i}"))  # eight machines
        procs.append(subprocess.Popen([sys.executable, "-m", "mreg", "--repo", url, "promote", f"model@1.0.{i}",
                                       "-q", "--reason", f"writer {i}"], env=env, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    a("pull", "-q")
    holders = [v["version"] for v in a("show", "model", "--json").json if v["stage"] == "production"]
    assert len(holders) == 1
    events = a("history", "model", "--json").json[::-1]
    promoted = [e["version"] for e in events if e["action"] == "promote" and e["to"] == "production"]
    superseded = [e["version"] for e in events if e["action"] == "supersede"]
    assert sorted(promoted) == [f"1.0.{i}" for i in range(8)]
    assert superseded == promoted[:-1] and holders == promoted[-1:]  # every holder but the last was superseded
    a("verify", "--rebuild-index", "-q")


def test_a_push_killed_at_random_moments_leaves_a_remote_the_next_push_completes(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    artifact = a.cwd / "model.bin"
    landed = 0
    rng = random.Random(7)
    for round_ in range(6):
        artifact.write_bytes(os.urandom(1 << 20) + bytes([round_]))
        a("register", "sentiment", artifact, "-q")
        proc = subprocess.Popen([sys.executable, "-m", "mreg", "push", "-q"], cwd=a.cwd, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            landed += 1
        a("push", "-q")  # the next push completes
        Mreg(tmp_path)("clone", url, tmp_path / f"check{round_}", "-q")
        check = Mreg(tmp_path / f"check{round_}")
        check("verify", "--rebuild-index", "-q")
        assert check("show", "sentiment", "--json").json == a("show", "sentiment", "--json").json
    assert landed >= 2, f"only {landed} kills landed mid-push"
