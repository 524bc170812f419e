"""verify --remote and gc --remote (two phases, never beside a running push's objects)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .test_remotes import fill, registry


def test_verify_remote_and_two_phase_gc(tmp_path):
    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 2)
    (a.cwd / "model.bin").write_bytes(b"doomed")
    a("register", "sentiment", a.cwd / "model.bin", "-q")
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    assert a("verify", "--remote", "origin", "--json").json["checked"]["objects"] == 3
    a("rm", "sentiment@1.0.2", "-q")
    a("push", "-q")
    doomed = hashlib.sha256(b"doomed").hexdigest()
    obj = Path(url) / "objects" / doomed[:2] / doomed[2:]
    # A running push's claim keeps an unreferenced object whatever the marks say.
    orphan = hashlib.sha256(b"about to be referenced").hexdigest()
    (Path(url) / "objects" / orphan[:2]).mkdir(exist_ok=True)
    (Path(url) / "objects" / orphan[:2] / orphan[2:]).write_bytes(b"about to be referenced")
    (Path(url) / "pushes").mkdir(exist_ok=True)
    claim = Path(url) / "pushes" / "running.json"
    claim.write_text(json.dumps({"time": "2099-01-01T00:00:00.000000Z", "objects": [orphan]}))

    first = a("gc", "--remote", "origin", "--grace", "0s", "--json").json
    assert first["objects"] == 0 and first["marked"] == 2  # phase one only marks
    assert obj.exists()
    second = a("gc", "--remote", "origin", "--grace", "0s", "--json").json
    assert second["objects"] == 1 and not obj.exists()
    assert (Path(url) / "objects" / orphan[:2] / orphan[2:]).exists()
    claim.unlink()
    a("gc", "--remote", "origin", "--grace", "0s", "-q")
    assert not (Path(url) / "objects" / orphan[:2] / orphan[2:]).exists()
    a("verify", "--remote", "origin", "-q")

    keep = a("show", "sentiment@1.0.0", "--json").json["digest"][7:]
    kept = Path(url) / "objects" / keep[:2] / keep[2:]
    kept.chmod(0o644)
    kept.write_bytes(b"rotten")
    bad = a("verify", "--remote", "origin", expect=3)
    assert "sentiment@1.0.0" in bad.out and "corrupt" in bad.out
