"""Deterministic guards for what makes mreg fast (benchmarks/run.py measures it).

Timings are noisy on a shared machine, so these tests check the causes
instead: which modules a command imports, which files it opens or changes,
and that the derived list cache never disagrees with the index files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the real entry point in a fresh interpreter and reports, as JSON on
# fd 3's file, the modules loaded and every path opened through an audit hook.
_PROBE = r"""
import json, os, sys
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        opened.append(os.fsdecode(args[0]))
    elif event == "os.scandir" and args and isinstance(args[0], (str, bytes)):
        opened.append(os.fsdecode(args[0]))
sys.addaudithook(hook)
import atexit
def report():
    with open(os.environ["PROBE_OUT"], "w") as handle:
        json.dump({"modules": sorted(sys.modules), "opened": opened}, handle)
atexit.register(report)
from mreg.cli.main import main
main(sys.argv[1:])
"""


def probe(cwd: Path, *args: str, env: dict | None = None) -> dict:
    out = cwd.parent / "probe.json"
    full_env = dict(os.environ, PROBE_OUT=str(out), **(env or {}))
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    report["stdout"] = done.stdout
    return report


COMPLETE_SHOW = {"_MREG_COMPLETE": "complete_bash", "COMP_WORDS": "mreg show se", "COMP_CWORD": "2"}
COMPLETE_REF = {"_MREG_COMPLETE": "complete_bash", "COMP_WORDS": "mreg show sentiment@", "COMP_CWORD": "2"}

READ_COMMANDS = [
    pytest.param(["list"], None, id="list"),
    pytest.param(["show", "sentiment@production"], None, id="show"),
    pytest.param(["history", "sentiment"], None, id="history"),
    pytest.param([], COMPLETE_SHOW, id="complete-name"),
    pytest.param([], COMPLETE_REF, id="complete-ref"),
]


@pytest.mark.parametrize("args, env", READ_COMMANDS)
def test_read_commands_import_nothing_heavy_when_piped(small, args, env):
    report = probe(small, *args, env=env)
    modules = set(report["modules"])
    # rich draws only at a terminal; pydantic arrives with typer >= 0.29 (see pyproject.toml).
    for heavy in ("rich", "pydantic", "socket", "hashlib", "mreg.core.store", "mreg.core.query", "mreg.web"):
        assert heavy not in modules, f"`mreg {' '.join(args)}` imported {heavy}"


@pytest.mark.parametrize("args, env", [
    pytest.param(["--help"], {"COLUMNS": "100"}, id="help"),
    pytest.param(["list"], None, id="list"),
    pytest.param(["show", "sentiment@production"], None, id="show"),
    pytest.param(["--repo", ".", "show", "sentiment", "--json"], None, id="show-versions"),
    pytest.param(["register", "sentiment", "model.bin", "-m", "accuracy=0.95", "--lock-timeout", "5"], None,
                 id="register"),
    pytest.param(["history", "sentiment", "-n", "2", "--action", "promote"], None, id="history"),
    pytest.param([], COMPLETE_SHOW, id="complete-name"),
    pytest.param([], COMPLETE_REF, id="complete-ref"),
])
def test_fast_path_lines_never_import_typer(small, args, env):
    # typer and its click are about half of such a call (mreg/cli/fast.py).
    report = probe(small, *args, env=env)
    assert report["stdout"]
    assert not {m for m in report["modules"] if m == "typer" or m.startswith(("typer.", "click"))}


@pytest.mark.parametrize("args", [["list"], ["show", "sentiment"], ["search", "stage = 'production'"],
                                  ["diff", "sentiment@1.0.0", "sentiment@1.0.1"], ["--help"], ["site", "--help"]])
def test_only_site_and_ui_import_the_web_view(small, args):
    # The generator (mreg/web/) is imported by `mreg site` and `mreg ui` alone, inside their bodies.
    modules = probe(small, *args)["modules"]
    assert not [m for m in modules if m == "mreg.web" or m.startswith("mreg.web.")]


def test_help_imports_neither_rich_nor_pydantic(small):
    modules = set(probe(small, "--help")["modules"])
    assert "rich" not in modules and "pydantic" not in modules


@pytest.mark.parametrize("args, env", READ_COMMANDS)
def test_read_commands_never_open_objects(small, args, env):
    opened = probe(small, *args, env=env)["opened"]
    objects = str(small / ".mreg" / "objects")
    assert not [p for p in opened if p.startswith(objects)]


def test_completing_a_reference_reads_one_index(small):
    opened = probe(small, env=COMPLETE_REF)["opened"]
    models = str(small / ".mreg" / "models")
    assert [p for p in opened if p.startswith(models) and p.endswith(".json")] == [
        str(small / ".mreg" / "models" / "sentiment" / "_index.json")]


def test_completion_still_answers(small):
    report = probe(small, env=COMPLETE_SHOW)
    assert set(report["stdout"].split()) == {"sentiment", "segmenter"}


def test_only_the_invoked_command_is_built():
    from mreg.cli.app import command

    assert set(command(["show", "x@1.0.0"]).commands) == {"show"}
    assert set(command(["--repo", "/tmp", "ls"]).commands) == {"ls"}
    everything = set(command(["--help"]).commands)
    assert {"show", "list", "register", "gc", "verify"} <= everything
    assert set(command(["no-such-command"]).commands) == everything
    assert set(command([]).commands) == everything


def _snapshot(root: Path) -> dict:
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            files[os.path.join(folder, name)] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return files


def test_one_register_changes_one_models_files(mreg, project):
    artifact = project / "a.bin"
    for i in range(12):
        artifact.write_bytes(f"model {i}".encode())
        mreg("register", f"model-{i:02d}", artifact, "-q")
    mreg("list")  # builds the cache, which a register must not need to touch
    before = _snapshot(project / ".mreg")
    artifact.write_bytes(b"one more")
    mreg("register", "model-05", artifact, "-q")
    after = _snapshot(project / ".mreg")
    changed = {p for p in before.keys() & after.keys() if before[p] != after[p]}
    models = str(project / ".mreg" / "models" / "model-05")
    assert changed == {os.path.join(models, "_index.json"), os.path.join(models, "_history.jsonl")}
    added = {p for p in after.keys() - before.keys()}
    assert all(p.startswith(str(project / ".mreg" / "objects")) for p in added), added


# --- the derived list cache ------------------------------------------------------
def _list(mreg) -> list[dict]:
    return mreg("list", "--json").json


def _list_from_the_index(project: Path) -> list[dict]:
    from mreg.core.semver import Version

    rows = []
    models = project / ".mreg" / "models"
    for index in sorted(models.rglob("_index.json"), key=lambda p: str(p.parent.relative_to(models))):
        model = json.loads(index.read_text())
        versions = model["versions"]
        if not versions:
            continue
        production = [v for v, r in versions.items() if r["stage"] == "production"]
        rows.append({"name": model["name"], "versions": len(versions), "latest": max(versions, key=Version.parse),
                     "production": production[0] if production else None})
    return rows


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in ("name", "versions", "latest", "production")} for r in rows]


def test_list_follows_every_change_at_once(mreg, small):
    # Each change lands within the "racy" window of the previous one, so the
    # cache must re-read the file rather than trust what it saw a moment ago.
    steps = [
        ("register", "sentiment", str(small / "model.bin"), "-q"),
        ("promote", "sentiment@1.0.3", "--to", "production", "--reason", "x", "-q"),
        ("rm", "segmenter", "--all", "--yes", "-q"),
        ("register", "team/new", str(small / "model.bin"), "-q"),
        ("rollback", "sentiment", "--reason", "y", "-q"),
    ]
    for i, step in enumerate(steps):
        (small / "model.bin").write_bytes(f"changed {i}".encode())
        mreg(*step)
        assert _strip(_list(mreg)) == _list_from_the_index(small), step


def test_list_cache_is_used_and_rebuilt(mreg, small):
    cache = small / ".mreg" / "cache" / "models.json"
    _age_the_index(small)
    first = _list(mreg)
    assert cache.exists()
    inode = cache.stat().st_ino
    assert _list(mreg) == first
    assert cache.stat().st_ino == inode  # trusted: read, not rewritten
    cache.write_text("{not json")
    assert _list(mreg) == first
    cache.unlink()
    assert _list(mreg) == first
    assert cache.exists()


def test_a_stale_entry_is_never_trusted(mreg, small):
    from mreg.core.cache.summaries import SUMMARY_FILE

    _list(mreg)
    path = small / ".mreg" / "cache" / SUMMARY_FILE
    data = json.loads(path.read_text())
    entry = data["models"]["sentiment"]
    entry["summary"]["latest"] = "9.9.9"
    entry["derived_ns"] = 0  # claims to be old, and is: but the identity is wrong
    entry["identity"][0] += 1
    path.write_text(json.dumps(data))
    assert [r["latest"] for r in _list(mreg) if r["name"] == "sentiment"] == ["1.0.2"]


def test_an_index_edited_by_hand_is_seen(mreg, small):
    # Someone restores an index from a backup: new inode, new size, new mtime.
    _list(mreg)
    index = small / ".mreg" / "models" / "segmenter" / "_index.json"
    model = json.loads(index.read_text())
    model["versions"]["1.0.0"]["stage"] = "production"
    temp = index.with_suffix(".new")
    temp.write_text(json.dumps(model, indent=1))
    os.replace(temp, index)
    assert [r["production"] for r in _list(mreg) if r["name"] == "segmenter"] == ["1.0.0"]


def test_list_works_on_a_read_only_cache_folder(mreg, small):
    cache = small / ".mreg" / "cache"
    cache.mkdir(exist_ok=True)
    (cache / "models.json").mkdir()  # cannot be replaced by a file: the cache is skipped
    assert _strip(_list(mreg)) == _list_from_the_index(small)


def test_a_damaged_index_is_still_an_integrity_error(mreg, small):
    _list(mreg)
    index = small / ".mreg" / "models" / "segmenter" / "_index.json"
    os.chmod(index, 0o644)
    index.write_text("{ damaged")
    r = mreg("list", expect=3)
    assert "segmenter" in r.err


# --- the derived search columns --------------------------------------------------
def _search_from_the_index(project: Path, text: str) -> list[dict]:
    from mreg.core.query import compile_filter
    from mreg.core.semver import Version

    matcher = compile_filter(text)
    found = []
    for index in (project / ".mreg" / "models").rglob("_index.json"):
        model = json.loads(index.read_text())
        found += [d for d in ({"name": model["name"], **r} for r in model["versions"].values()) if matcher.matches(d)]
    return sorted(found, key=lambda d: (d["name"], Version.parse(d["version"])))


FILTERS = ["metrics.accuracy > 0.905", "stage = 'production' or name like 'seg%'", "tags.missing = 'x'",
           "version >= 1.0.1 and metrics.accuracy < 0.92", ""]


def test_search_follows_every_change_at_once(mreg, small):
    steps = [
        ("update", "sentiment@1.0.0", "-m", "accuracy=0.99", "-q"),
        ("register", "segmenter", str(small / "model.bin"), "-m", "accuracy=0.95", "-q"),
        ("rm", "sentiment@1.0.2", "-q"),
        ("promote", "segmenter@1.0.1", "--to", "production", "--reason", "x", "-q"),
    ]
    for i, step in enumerate(steps):
        (small / "model.bin").write_bytes(f"changed {i}".encode())
        mreg(*step)
        for text in FILTERS:
            assert mreg("search", text, "--json").json == _search_from_the_index(small, text), (step, text)


def _age_the_index(project: Path) -> None:
    # Entries of files changed in the last seconds are re-derived every time;
    # an hour-old index lets the cache be trusted, as it is in real use.
    hour_ago = os.stat(project).st_mtime - 3600
    for index in (project / ".mreg" / "models").rglob("_index.json"):
        os.utime(index, (hour_ago, hour_ago))


def test_a_trusted_search_file_is_read_not_rewritten(mreg, small):
    _age_the_index(small)
    mreg("search", "metrics.accuracy > 0")
    files = sorted((small / ".mreg" / "cache" / "search").iterdir())
    before = {f: f.stat().st_ino for f in files}
    mreg("search", "metrics.accuracy > 0")
    assert {f: f.stat().st_ino for f in files} == before


def test_a_damaged_search_file_is_rebuilt(mreg, small):
    _age_the_index(small)
    mreg("search", "metrics.accuracy > 0")
    files = sorted((small / ".mreg" / "cache" / "search").iterdir())
    assert [f.name for f in files] == ["segmenter.json", "sentiment.json"]
    for f in files:
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2])  # header intact, body cut short
    for text in FILTERS:
        assert mreg("search", text, "--json").json == _search_from_the_index(small, text), text


@pytest.mark.parametrize("args", [
    pytest.param(["list"], id="list"),
    pytest.param(["show", "sentiment@production"], id="show"),
    pytest.param(["register", "sentiment", "model.bin"], id="register"),
    pytest.param(["get", "sentiment@latest", "-o", "out.bin"], id="get"),
    pytest.param(["verify"], id="verify"),
])
def test_local_commands_never_import_the_remote_code(small, args):
    # Remotes (their format, the protocol, any backend library) cost a local command nothing.
    (small / "model.bin").write_bytes(b"weights again")
    modules = set(probe(small, *args)["modules"])
    assert not {m for m in modules if m.startswith(("mreg.core.remote", "mreg.core.ops.sync", "fsspec", "s3fs",
                                                   "paramiko"))}
