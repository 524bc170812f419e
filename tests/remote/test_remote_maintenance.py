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


def test_gc_remote_beside_a_running_pusher_never_deletes_what_its_entry_names(tmp_path):
    """The dangerous case: a push whose objects are already on the remote, unreferenced and marked.

    Each round the pusher registers a tree, pushes, removes it and pushes
    again, waits until a gc run has marked its objects, then registers the
    same tree again: its push finds every object there and uploads none,
    while gc runs sweep marked objects beside it.
    """
    import os
    import subprocess
    import sys

    from reliability.rel import scale

    url = str(tmp_path / "remote")
    a = registry(tmp_path, "a")
    fill(a, 1)
    a("remote", "add", "origin", url, "-q")
    a("push", "-q")
    rounds = scale(4, 20)
    pusher = f"""
import glob, json, os, subprocess, sys, time
def mreg(*args):
    return subprocess.run([sys.executable, '-m', 'mreg', *args], check=True, capture_output=True, text=True).stdout
for i in range({rounds}):
    os.makedirs(f'tree{{i}}', exist_ok=True)
    for j in range(300):
        open(f'tree{{i}}/f{{j}}.bin', 'wb').write(os.urandom(64))
    mreg('register', 'trees', f'tree{{i}}', '-q')
    digest = json.loads(mreg('show', 'trees@latest', '--json'))['digest'][7:]
    version = json.loads(mreg('show', 'trees@latest', '--json'))['version']
    mreg('push', '-q')
    mreg('rm', f'trees@{{version}}', '-q')
    mreg('push', '-q')
    deadline = time.time() + 60
    while time.time() < deadline and not any(digest in open(m).read() for m in glob.glob({url!r} + '/gc/marks/*.json')):
        time.sleep(0.02)
    mreg('register', 'trees', f'tree{{i}}', '-q')
    mreg('push', '-q')
"""
    collector = ("import os, subprocess, sys\n"
                 "runs = 0\n"
                 "while not os.path.exists('stop'):\n"
                 "    subprocess.run([sys.executable, '-m', 'mreg', 'gc', '--remote', 'origin', '--grace', '0s', '-q'],"
                 " check=True)\n"
                 "    runs += 1\n"
                 "print(runs)\n")
    gc_dir = tmp_path / "gc"
    registry(tmp_path, "gc")("remote", "add", "origin", url, "-q")
    collecting = subprocess.Popen([sys.executable, "-c", collector], cwd=gc_dir, stdout=subprocess.PIPE, text=True)
    pushing = subprocess.run([sys.executable, "-c", pusher], cwd=a.cwd, capture_output=True, text=True, timeout=900)
    (gc_dir / "stop").write_text("")
    out, _ = collecting.communicate(timeout=120)
    assert pushing.returncode == 0, pushing.stderr
    assert collecting.returncode == 0 and int(out) >= 2
    a("verify", "--remote", "origin", "-q")  # every object every entry names is there, and sound
    assert len(a("show", "trees", "--json").json) == rounds
