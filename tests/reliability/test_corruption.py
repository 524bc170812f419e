"""SPEC §6-7, corruption: every flipped byte, truncation or deletion of an object
is caught by `verify` and by `get` (and nothing else is reported); a damaged
index or config is exit 3 with a hint and is never overwritten; an edited
history is exit 3."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from rel import check_registry, cli, init_registry, read_indexes, scale, sha, tally


def _build(tmp_path: Path) -> Path:
    project = init_registry(tmp_path / "project")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        f = src / f"file{i}.bin"
        f.write_bytes(os.urandom(100 + 5000 * i))
        cli(project, "register", f"file{i}", f, expect=0)
    tree = src / "tree"
    for i in range(12):
        (tree / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (tree / f"d{i % 3}" / f"f{i}").write_bytes(os.urandom(1 + 700 * i))
    cli(project, "register", "tree", tree, expect=0)
    cli(project, "register", "tree2", tree, expect=0)  # shares every object
    return project


def _objects(project: Path) -> list[Path]:
    return sorted(p for p in (project / ".mreg" / "objects").rglob("*") if p.is_file())


def _users(project: Path, registry) -> dict[str, list[str]]:
    """object hex -> refs that use it."""
    from mreg.core.artifact import referenced_objects

    users: dict[str, list[str]] = {}
    for name, doc in read_indexes(project).items():
        for version, rec in doc["versions"].items():
            for h in referenced_objects(registry.store, rec["digest"], rec["kind"]):
                users.setdefault(h, []).append(f"{name}@{version}")
    return users


def test_object_damage_is_always_detected(tmp_path):
    import mreg as api
    from mreg.errors import IntegrityError

    project = _build(tmp_path)
    registry = api.open(str(project))
    users = _users(project, registry)
    objects = _objects(project)
    assert len(objects) == len(users)
    rng = random.Random(11)
    trials = scale(100, 1000)
    detected_verify = detected_get = false_alarms = 0
    out = tmp_path / "out"
    for trial in range(trials):
        victim = rng.choice(objects)
        hexdigest = victim.parent.name + victim.name
        original = victim.read_bytes()
        os.chmod(victim, 0o644)
        kind = rng.choice(["flip", "truncate", "delete", "append"])
        if kind == "flip":
            data = bytearray(original)
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
            victim.write_bytes(bytes(data))
        elif kind == "truncate":
            victim.write_bytes(original[: rng.randrange(len(original))])
        elif kind == "append":
            victim.write_bytes(original + b"\0")
        else:
            victim.unlink()
        # verify (in process for speed; every 10th through the CLI)
        if trial % 10 == 0:
            run = cli(project, "verify", "--json", expect=3)
            report = run.json
        else:
            report = api.open(str(project)).verify()
        assert not report["ok"]
        named = {v for p in report["problems"] for v in p["versions"]}
        assert set(users[hexdigest]) <= named, (kind, report)
        assert named <= set(users[hexdigest]), f"false alarm: {named - set(users[hexdigest])}"
        detected_verify += 1
        # get of every version that uses it fails with an integrity error and leaves nothing
        for ref in users[hexdigest]:
            if trial % 10 == 0:
                run = cli(project, "get", ref, "-o", out, expect=3)
                assert run.err.startswith("mreg: error:"), run
            else:
                with pytest.raises(IntegrityError):
                    registry.get(ref, str(out))
            assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".mreg-get")]
        detected_get += 1
        victim.write_bytes(original)
        os.chmod(victim, 0o444)
        if trial % 25 == 0:
            assert api.open(str(project)).verify()["ok"]
    check_registry(project)
    tally("corruption: object damage injected", trials)
    tally("corruption: detected by verify", detected_verify)
    tally("corruption: detected by get", detected_get)
    tally("corruption: false alarms", false_alarms)


DAMAGE = {
    "empty": lambda b: b"",
    "truncated": lambda b: b[: len(b) // 2],
    "garbage": lambda b: b"\x00\xff\xfe not json or toml \x80",
    "binary": lambda b: os.urandom(300),
}


@pytest.mark.parametrize("how", list(DAMAGE) + ["future"])
@pytest.mark.parametrize("which", ["index", "config"])
def test_damaged_index_or_config_is_exit_3_and_never_overwritten(tmp_path, how, which):
    project = init_registry(tmp_path / "project")
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    cli(project, "register", "m", f, expect=0)
    target = project / ".mreg" / ("models/m/_index.json" if which == "index" else "config.toml")
    original = target.read_bytes()
    if how == "future":
        if which == "index":
            doc = json.loads(original)
            doc["format"] = 99
            damaged = json.dumps(doc).encode()
        else:
            damaged = original.replace(b"format = 1", b"format = 99")
            assert damaged != original
    else:
        damaged = DAMAGE[how](original)
    target.write_bytes(damaged)
    commands = [["verify"], ["show", "m@1.0.0"], ["register", "m", str(f)], ["promote", "m@1.0.0", "--reason", "r"],
                ["update", "m@1.0.0", "-t", "a=b"], ["rm", "m@1.0.0"], ["gc", "--grace", "0s"], ["get", "m", "-o",
                str(tmp_path / "out")], ["history", "m"], ["init", "."]]
    for args in commands:
        run = cli(project, *args)
        # Reads that need no lifecycle may still work with a damaged config; nothing else may.
        lenient = which == "config" and args[0] in ("show", "get", "history") and run.code == 0
        if (which == "config" or args[0] != "init") and not lenient:
            assert run.code == 3, run
            assert run.err.startswith("mreg: error:"), run
            assert "hint:" in run.err, run
        assert target.read_bytes() == damaged, f"{args} overwrote the damaged {which}"
        tally("corruption: damaged index/config commands refused", run.code == 3)
    target.write_bytes(original)
    check_registry(project, {"m@1.0.0": sha(b"weights")})


@pytest.mark.parametrize("edit", ["change", "delete", "reorder", "truncate", "append-garbage", "drop-last"])
def test_history_edits_are_exit_3(tmp_path, edit):
    project = init_registry(tmp_path / "project")
    f = tmp_path / "w.bin"
    for i in range(3):
        f.write_bytes(str(i).encode())
        cli(project, "register", "m", f, expect=0)
    cli(project, "promote", "m@1.0.0", "--reason", "r", expect=0)
    path = project / ".mreg" / "models" / "m" / "_history.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    if edit == "change":
        lines[1] = lines[1].replace(b'"user":"', b'"user":"x')
    elif edit == "delete":
        del lines[1]
    elif edit == "reorder":
        lines[0], lines[1] = lines[1], lines[0]
    elif edit == "truncate":
        lines[-1] = lines[-1][:20]
    elif edit == "append-garbage":
        lines[2] = b"{garbage\n"
    else:
        lines = lines[:-1]
    path.write_bytes(b"".join(lines))
    run = cli(project, "verify", expect=3)
    assert "history" in run.out + run.err, run
    tally("corruption: history edits detected", 1)
