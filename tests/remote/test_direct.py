"""`--repo URL` / `MREG_REPO=URL`: every command directly on a remote, through a cached lazy clone."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mregtest import Mreg
from reliability.rel import scale

from .test_remotes import fill, opts, registry


def _url_env(tmp_path: Path, options: dict, cache: str = "cache") -> dict:
    """One machine's environment for `--repo URL`: its own cache, and the storage options of the URL."""
    return {"MREG_CACHE_DIR": str(tmp_path / cache),
            "MREG_REPO_OPTIONS": " ".join(f"{key}={value}" for key, value in options.items())}


def test_commands_work_directly_on_a_remote(tmp_path, remote):
    url, options = remote()
    env = _url_env(tmp_path, options)
    a = registry(tmp_path, "a")
    fill(a, 3)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    elsewhere = Mreg(tmp_path)
    assert elsewhere("--repo", url, "list", "--json", env=env).json == a("list", "--json").json
    (tmp_path / "new.bin").write_bytes(b"direct")
    doc = elsewhere("--repo", url, "register", "sentiment", tmp_path / "new.bin", "--json", env=env).json
    assert doc["version"] == "1.0.3"
    same = f"file://{url}" if "://" not in url else url
    elsewhere("--repo", same, "promote", "sentiment@1.0.3", "--to", "production", "-q", env=env)
    # The newer writes are committed to the remote too: an alias and a deployment.
    elsewhere("--repo", url, "alias", "sentiment@1.0.3", "champion", "-q", env=env)
    elsewhere("--repo", url, "deploy", "sentiment@champion", "--env", "prod", "-q", env=env)
    a("pull", "-q")
    assert a("show", "sentiment@production", "--json").json["version"] == "1.0.3"
    assert a("show", "sentiment@champion", "--json").json["version"] == "1.0.3"
    assert a("deployments", "sentiment", "--json").json[0]["traffic"] == {"1.0.3": 100}
    elsewhere("get", "sentiment@1.0.3", "-o", tmp_path / "got.bin", env={**env, "MREG_REPO": url})
    assert (tmp_path / "got.bin").read_bytes() == b"direct"
    refused = elsewhere("--repo", url, "register", "sentiment", tmp_path / "new.bin", "--version", "1.0.3",
                        expect=1, env=env)
    assert "already exists" in refused.err
    a("verify", "--rebuild-index", "-q")


def test_eight_writers_promote_directly_one_production_holder(tmp_path, remote):
    url, options = remote()
    a = registry(tmp_path, "a")
    artifact = a.cwd / "model.bin"
    for i in range(8):
        artifact.write_bytes(f"candidate {i}".encode())
        a("register", "model", artifact, "-q")
        a("promote", f"model@1.0.{i}", "--to", "staging", "-q")
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    procs = []
    for i in range(8):
        env = dict(os.environ, **_url_env(tmp_path, options, f"cache{i}"))  # eight machines
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


def _digest_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _on_remote(url: str, digest: str) -> tuple[bool, bool]:
    """(whether the object is on the remote, whether some log entry names it)."""
    root = Path(url)
    stored = (root / "objects" / digest[:2] / digest[2:]).exists()
    named = any(digest in entry.read_text() for entry in (root / "models").rglob("*.json"))
    return stored, named


def _wait_for_upload(proc: subprocess.Popen, url: str, digest: str, timeout: float = 60.0) -> None:
    """Return once the object's upload has begun on the remote (a temporary, or the object), or the push ended."""
    root = Path(url)
    target = root / "objects" / digest[:2] / digest[2:]
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end:
        if target.exists() or any(p.name.startswith(".mreg-tmp") for p in root.rglob("*")):
            return
        time.sleep(0.002)


def test_a_push_killed_at_random_moments_leaves_a_remote_the_next_push_completes(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    artifact = a.cwd / "model.bin"
    between = 0  # kills that landed after the upload began and before the entry was created
    rng = random.Random(7)
    rounds = scale(8, 30)
    # How long a whole push of such a version takes here: the kills are aimed at its second half.
    artifact.write_bytes(os.urandom(24 << 20))
    a("register", "sentiment", artifact, "-q")
    started = time.monotonic()
    a("push", "-q")
    whole = time.monotonic() - started
    for round_ in range(rounds):
        data = os.urandom(24 << 20) + bytes([round_])
        artifact.write_bytes(data)
        a("register", "sentiment", artifact, "-q")
        proc = subprocess.Popen([sys.executable, "-m", "mreg", "push", "-q"], cwd=a.cwd, stderr=subprocess.PIPE)
        if round_ % 2:
            time.sleep(rng.uniform(0.4, 1.0) * whole)
        else:
            # Every other kill waits for the upload to show on the remote: on a busy machine a
            # sleep alone can miss the window between the upload and the entry every time.
            _wait_for_upload(proc, url, _digest_of(data))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stored, named = _on_remote(url, _digest_of(data))
        partial = any(p.name.startswith(".mreg-tmp") for p in Path(url).rglob("*"))
        if proc.returncode == -signal.SIGKILL and (stored or partial) and not named:
            between += 1
        a("push", "-q")  # the next push completes
        assert _on_remote(url, _digest_of(data)) == (True, True)
        a("verify", "--remote", "origin", "-q")
    Mreg(tmp_path)("clone", url, tmp_path / "check", "-q")
    check = Mreg(tmp_path / "check")
    check("verify", "--rebuild-index", "-q")
    assert check("show", "sentiment", "--json").json == a("show", "sentiment", "--json").json
    assert between >= 2, f"{between} kills of {rounds} landed between the upload and the entry"


def test_a_direct_write_killed_at_random_moments(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    env = dict(os.environ, MREG_CACHE_DIR=str(tmp_path / "cache"))
    direct = Mreg(tmp_path)
    direct("--repo", url, "list", "-q", env=env)  # the cache exists: kills land in the write, not the clone
    rng = random.Random(11)
    landed = 0
    rounds = scale(8, 30)
    (tmp_path / "model.bin").write_bytes(os.urandom(24 << 20))
    started = time.monotonic()
    direct("--repo", url, "register", "sentiment", "model.bin", "-q", env=env)
    whole = time.monotonic() - started
    for round_ in range(rounds):
        data = os.urandom(24 << 20) + bytes([round_])
        (tmp_path / "model.bin").write_bytes(data)
        intakes_before = len(list((tmp_path / "cache").rglob("intake/*")))
        proc = subprocess.Popen([sys.executable, "-m", "mreg", "--repo", url, "register", "sentiment", "model.bin",
                                 "-q"], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.0) * whole)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cached = any(p.name == _digest_of(data)[2:] for p in (tmp_path / "cache").rglob("*"))
        intakes = len(list((tmp_path / "cache").rglob("intake/*")))
        if proc.returncode == -signal.SIGKILL and (cached or intakes > intakes_before) \
                and not _on_remote(url, _digest_of(data))[1]:
            landed += 1  # the artifact was being stored or pushed, and no entry names it yet
        (tmp_path / "next.bin").write_bytes(os.urandom(64))
        direct("--repo", url, "register", "sentiment", "next.bin", "-q", env=env)
        a("verify", "--remote", "origin", "-q")
    a("pull", "-q")
    a("verify", "--rebuild-index", "-q")
    versions = [v["version"] for v in a("show", "sentiment", "--json").json]
    assert len(versions) == len(set(versions)) >= 2 + rounds
    assert landed >= 2, f"{landed} kills of {rounds} landed mid-write"


def test_every_registry_method_is_known_as_a_write_or_a_read():
    # A write not in WRITES would change the cached clone and never reach the remote.
    from mreg.core.direct import READS, WRITES
    from mreg.core.registry import Registry

    public = {name for name, value in vars(Registry).items() if callable(value) and not name.startswith("_")}
    assert public - set(WRITES) - set(READS) == set()
    assert set(WRITES) & set(READS) == set()


def test_mreg_open_url_writes_to_the_remote_in_process(tmp_path, s3_remote, monkeypatch):
    """The Python API on a remote URL: each write is committed to the remote before it returns, as with --repo URL."""
    import mreg
    from mreg.errors import UsageError

    url, options = s3_remote()
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, *opts(options), "-q")
    a("push", "-q")
    monkeypatch.setenv("MREG_CACHE_DIR", str(tmp_path / "api-cache"))
    monkeypatch.delenv("MREG_REPO_OPTIONS", raising=False)
    remote = mreg.open(url, options=options)
    assert [v["version"] for v in remote.show("sentiment")] == ["1.0.0"]
    (tmp_path / "api.bin").write_bytes(b"from the API")
    assert remote.register("sentiment", str(tmp_path / "api.bin"), metrics={"accuracy": 0.97})["version"] == "1.0.1"
    assert remote.promote("sentiment@1.0.1", to="production", reason="api")["stage"] == "production"
    assert remote.show("sentiment@production")["metrics"] == {"accuracy": 0.97}
    # Another machine sees both writes on the remote, through the command line.
    env = _url_env(tmp_path, options, "cli-cache")
    seen = Mreg(tmp_path)("--repo", url, "show", "sentiment@production", "--json", env=env).json
    assert seen["version"] == "1.0.1" and seen["metrics"] == {"accuracy": 0.97}
    a("pull", "-q")
    assert a("show", "sentiment@production", "--json").json["version"] == "1.0.1"
    # A second open reuses the cached clone, pulled: it sees what others pushed meanwhile.
    (a.cwd / "model.bin").write_bytes(b"pushed from a copy")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("push", "-q")
    assert mreg.open(url, options=options).show("sentiment@latest")["version"] == "1.0.2"
    # Other options (new credentials, another endpoint) replace those the cached clone was made with.
    changed = mreg.open(url, options={**options, "max_concurrency": "2"})
    assert changed.remote_list()[0]["url"] == url
    assert changed.config.remotes["origin"]["options"]["max_concurrency"] == "2"
    assert changed.alias("sentiment@1.0.2", "newest")["version"] == "1.0.2"  # and it still writes
    with pytest.raises(UsageError, match="options are for a remote URL"):
        mreg.open(str(a.cwd), options=options)
    a("verify", "--remote", "origin", "-q")
