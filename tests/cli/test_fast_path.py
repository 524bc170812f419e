"""The fast path (mreg/cli/fast.py) answers exactly as typer does.

Every command line here runs twice through the real entry point: once as
usual, once with `_MREG_TYPER_ONLY=1`, and the two must agree byte for byte
in stdout, stderr and exit code, whether the fast path took the line or left
it to typer. The generated grammar it reads must be the current one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import generate_grammar  # noqa: E402


def test_committed_grammar_is_the_generated_one():
    fresh = generate_grammar.render()
    committed = (ROOT / "mreg" / "cli" / "grammar.py").read_text(encoding="utf-8")
    assert committed == fresh, "mreg/cli/grammar.py is stale: run python scripts/generate_grammar.py"


def _both(mreg, *args, env=None):
    # click keeps `-h`/`--help` in a set: the same hash seed lists them alike.
    env = {**(env or {}), "PYTHONHASHSEED": "0"}
    fast = mreg(*args, expect=None, env=env)
    slow = mreg(*args, expect=None, env={**(env or {}), "_MREG_TYPER_ONLY": "1"})
    assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err), args
    return fast


COMMAND_LINES = [
    ["--help"], ["-h"],
    ["list"], ["ls"], ["list", "--json"], ["list", "-q"], ["list", "--quiet", "--json"],
    ["show", "sentiment@production"], ["show", "sentiment@1.0.0", "--json"], ["show", "--json", "sentiment"],
    ["show", "sentiment"], ["show", "segmenter@latest", "-q"],
    ["show", "sentiment@production", "--repo", "."], ["show", "--repo=.", "sentiment@latest"],
    ["--repo", ".", "show", "sentiment@latest"],
    ["history"], ["history", "sentiment"], ["history", "sentiment@1.0.1", "--json"], ["history", "-n", "2"],
    ["history", "--limit=1", "--action", "promote", "-a", "register", "--since", "7d"], ["history", "-q"],
    ["get", "sentiment@production", "--path"], ["get", "--json", "--path", "segmenter@latest"],
    ["get", "sentiment@1.0.0", "-o", "got", "-f", "--json"], ["get", "sentiment@1.0.0", "-o", "got", "-f", "-q"],
    ["get", "sentiment@1.0.0", "--path", "-o", "x"], ["get", "nope@1"], ["get", "sentiment@1.0.0", "--force", "--output=got"],
    ["diff", "sentiment@1.0.0", "sentiment@production"], ["diff", "sentiment@1.0.0", "segmenter@latest", "--json"],
    ["diff", "-q", "sentiment", "sentiment@1.0.0"], ["diff", "sentiment@1.0.0"], ["diff", "nope@1", "sentiment"],
    # Mistakes, and lines the fast path leaves to typer.
    ["history", "-n", "two"], ["history", "--since", "whenever"], ["history", "a", "b"], ["history", "-n"],
    ["history", "nosuch"], ["history", "--action", "bogus"],
    ["show"], ["show", "a@1", "b@2"], ["show", "nope@1.0.0"], ["show", "sentiment@bogus!"],
    ["show", "--help"], ["list", "-h"], ["show", "sentiment@1.0.0", "--jsn"], ["show", "-qj", "sentiment"],
    ["show", "--json=yes", "sentiment"], ["show", "--", "sentiment@1.0.0"], ["show", "sentiment", "--repo"],
    ["list", "extra"], ["list", "--repo", "/nonexistent/registry"],
    # With --json a failure is also a JSON document on stdout, whichever path answers.
    ["show", "nope@1.0.0", "--json"], ["history", "-n", "two", "--json"], ["list", "--json", "extra"],
    ["diff", "sentiment@1.0.0", "--json"], ["get", "sentiment@9.9.9", "-o", "x", "--json"],
    ["register", "Bad Name", "model.bin", "--json"], ["register", "sentiment", "--json"],
    # model.bin holds segmenter@1.0.0's bytes: both runs find it and register nothing.
    ["register", "segmenter", "model.bin", "--if-changed", "--json"], ["register", "segmenter", "model.bin", "--if-changed"],
]


@pytest.mark.parametrize("args", COMMAND_LINES, ids=" ".join)
def test_command_lines_answer_as_typer_does(small, mreg, args):
    _both(mreg, *args)


def test_help_is_typer_s_at_any_width(small, mreg):
    for columns in ("40", "79", "80", "200"):
        _both(mreg, "--help", env={"COLUMNS": columns})


def test_fast_output_is_real(small, mreg):
    # The agreement above is worth something only if both answer something.
    assert {row["name"] for row in mreg("list", "--json").json} == {"sentiment", "segmenter"}
    assert mreg("show", "sentiment@production", "--json").json["version"] == "1.0.1"
    assert "Inspecting:" in mreg("--help").out


TAB_LINES = [
    ("mreg ", 1), ("mreg s", 1), ("mreg l", 1), ("mreg show ", 2), ("mreg show se", 2), ("mreg show sentiment@", 2),
    ("mreg show sentiment@p", 2), ("mreg show sentiment@1 ", 3), ("mreg --repo . show s", 4), ("mreg --repo", 1),
    ("mreg show --repo . se", 4), ("mreg show --repo", 2), ("mreg show -", 2), ("mreg get -o out se", 4),
    ("mreg transition sentiment@1.0.0 ", 3), ("mreg transition sentiment@1.0.0 pro", 3), ("mreg diff sentiment@1.0.0 se", 3),
    ("mreg history ", 2), ("mreg register ", 2), ("mreg search --sort ", 3), ("mreg nosuch ", 2),
    ("mreg show 'se", 2), ("mreg ls ", 2),
    # Any number of names: each word is the last argument's.
    ("mreg site ", 2), ("mreg site sentiment se", 3), ("mreg site -o out sentiment s", 5), ("mreg push ", 2),
    ("mreg deployments ", 2), ("mreg deploy sentiment@1.0.0 --env ", 4), ("mreg rollback s", 2),
]


@pytest.mark.parametrize("line, cword", TAB_LINES, ids=[line for line, _ in TAB_LINES])
def test_tab_answers_as_typer_does(small, mreg, line, cword):
    r = _both(mreg, env={"_MREG_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)})
    assert r.code == 0


def test_tab_offers_real_candidates(small, mreg):
    def tab(line, cword):
        env = {"_MREG_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}
        return mreg(env=env).out.split()

    assert sorted(tab("mreg show se", 2)) == ["segmenter", "sentiment"]
    assert "sentiment@production" in tab("mreg show sentiment@", 2)
    assert "show" in tab("mreg s", 1) and "ls" not in tab("mreg l", 1)  # hidden aliases are not offered


REGISTER_LINES = [
    ["register", "m", "model.bin"],
    ["register", "m", "model.bin", "-m", "acc=0.9", "--metric=f1=0.8", "-p", "lr=3e-4", "-t", "team=a", "--json"],
    ["register", "m", "model.bin", "--bump", "minor", "-q", "--description", "-x-"],
    ["register", "--version", "3.0.0", "m", "model.bin", "--stage", "staging", "-r", "why", "--lock-timeout", "5"],
    ["register", "team/m", "folder", "--dataset", "train=model.bin", "--framework", "sklearn"],
    ["register", "derived", "model.bin", "--from", "m@1.0.0", "--from=team/m@latest", "--from", "m@staging", "--json"],
    ["get", "sentiment@production", "--path"], ["get", "--json", "--path", "segmenter@latest"],
    ["get", "sentiment@1.0.0", "-o", "got", "-f", "--json"], ["get", "sentiment@1.0.0", "-o", "got", "-f", "-q"],
    ["get", "sentiment@1.0.0", "--path", "-o", "x"], ["get", "nope@1"], ["get", "sentiment@1.0.0", "--force", "--output=got"],
    ["diff", "sentiment@1.0.0", "sentiment@production"], ["diff", "sentiment@1.0.0", "segmenter@latest", "--json"],
    ["diff", "-q", "sentiment", "sentiment@1.0.0"], ["diff", "sentiment@1.0.0"], ["diff", "nope@1", "sentiment"],
    # Mistakes, and lines the fast path leaves to typer.
    ["register", "m"], ["register", "m", "missing.bin"], ["register", "m", "model.bin", "--lock-timeout", "abc"],
    ["register", "m", "model.bin", "-m=a=1"], ["register", "Bad Name!", "model.bin"],
    ["register", "m", "model.bin", "-m", "acc=high"], ["register", "m", "model.bin", "--help"],
    ["register", "m", "model.bin", "--bump", "huge"], ["register", "m", "model.bin", "-V", "3.0.0"],
    ["register", "m", "model.bin", "extra"], ["register", "m", "model.bin", "--stage"],
    ["register", "m", "model.bin", "--from", "nope@1.0.0"], ["register", "m", "model.bin", "--from", "m@9.0.0"],
    ["register", "m", "model.bin", "--from", "Bad@1"], ["register", "m", "model.bin", "--from"],
]


def _timeless(text: str) -> str:
    # Two registers never share a second; everything else must be equal.
    import json
    import re

    try:
        doc = json.loads(text)
    except ValueError:
        return text
    drop = re.compile(r"(_at|_by|^user|^lineage)$")

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not drop.search(k)}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(doc), sort_keys=True)


def test_registers_answer_and_store_as_typer_does(tmp_path):
    from mregtest import Mreg

    runs = {}
    for way in ("fast", "typer"):
        folder = tmp_path / way
        folder.mkdir()
        (folder / "model.bin").write_bytes(b"weights")
        (folder / "folder").mkdir()
        (folder / "folder" / "w.bin").write_bytes(b"more weights")
        mreg = Mreg(folder)
        mreg("init", "-q")
        env = {"_MREG_TYPER_ONLY": "1"} if way == "typer" else None
        results = [mreg(*args, expect=None, env=env) for args in REGISTER_LINES]
        results.append(mreg("show", "m", "--json", env=env))
        results.append(mreg("list", "--json", env=env))
        runs[way] = [(r.code, _timeless(r.out), r.err) for r in results]
    assert runs["fast"] == runs["typer"]
    assert [code for code, _, _ in runs["fast"][:6]] == [0, 0, 0, 0, 0, 0]
    assert json.loads(runs["fast"][5][1])["derived_from"] == ["m@1.0.0", "team/m@1.0.0", "m@3.0.0"]
