"""Documentation that cannot drift: every command has help with an example and
is in the README and docs/cli.md; the generated reference is current; docs/json.md
covers every JSON document; and the README's console sessions really run.

README convention: only ```console blocks are run, all of them in order, in one
bash session in a fresh folder holding the files they mention. A line starting
`$ ` is a command (it must exit 0); the lines after it are exactly its stdout,
where `...` matches anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mregtest import write_safetensors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import generate_docs  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_MD = ROOT / "docs" / "cli.md"


def all_commands():
    _, ctx, items = generate_docs.commands()
    return ctx, items


def test_every_command_has_a_summary_help_and_an_example():
    ctx, items = all_commands()
    assert len(items) >= 15
    for name, cmd in items:
        assert cmd.help and cmd.help.strip(), f"mreg {name} has no help"
        summary = cmd.get_short_help_str(limit=1000)
        assert summary.endswith("."), f"mreg {name}: summary {summary!r} is not one sentence"
        assert len(summary) <= 66, f"mreg {name}: summary too long for one line of `mreg --help`: {summary!r}"
        text = generate_docs.help_text(cmd, name, ctx)
        assert "Example:" in text and f"mreg {name if not cmd.hidden else ''}".strip() in text.split("Example:")[1], name
        assert "Options:" in text


def test_mreg_help_cuts_no_summary(mreg):
    r = mreg("--help", env={"COLUMNS": "80"})
    rows = r.out.split("Registering:", 1)[1]
    assert "..." not in rows
    for heading in ("Registering:", "Lifecycle:", "Inspecting:", "Maintenance:"):
        assert heading in r.out
    assert "diff " in r.out


def test_every_command_is_in_the_readme_and_the_reference():
    reference = CLI_MD.read_text(encoding="utf-8")
    for name, cmd in all_commands()[1]:
        if not cmd.hidden:
            assert re.search(rf"`mreg {name}\b|^\$ mreg {name}\b|^mreg {name}\b", README, re.M), f"mreg {name} is not in the README"
        assert f"## mreg {name}\n" in reference, f"mreg {name} is not in docs/cli.md"


def test_generated_reference_is_current():
    fresh = generate_docs.render()
    if os.environ.get("MREG_UPDATE_GENERATED"):
        generate_docs.main([])
    assert CLI_MD.read_text(encoding="utf-8") == fresh, "docs/cli.md is stale: run python scripts/generate_docs.py"


def test_json_reference_describes_every_document():
    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    for heading in ("version", "event", "list", "diff", "get", "gc", "verify", "rm", "init"):
        assert f"\n## {heading}\n" in text, f"docs/json.md has no section for {heading}"
    for key in ("removed_versions", "dry_run", "problems", "same_artifact", "delta", "digest", "created_at"):
        assert key in text


# --- the README's console sessions ------------------------------------------------

def console_blocks(text: str) -> list[list[tuple[str, list[str]]]]:
    """[[(command, expected stdout lines)]] for every ```console block."""
    blocks = []
    for body in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M):
        steps: list[tuple[str, list[str]]] = []
        lines = body.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            assert line.startswith("$ "), f"console output without a command: {line!r}"
            command = line[2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + "\n" + lines[i]
            i += 1
            expected = []
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            steps.append((command, expected))
        blocks.append(steps)
    return blocks


def make_files(folder: Path) -> None:
    """Every file the README's sessions mention."""
    write_safetensors(folder / "model.safetensors", {"w": ("F32", [64, 32])})
    (folder / "model-v2").mkdir()
    write_safetensors(folder / "model-v2" / "model.safetensors", {"w": ("F32", [64, 48])})
    (folder / "model-v2" / "config.json").write_text('{"hidden": 48}\n')
    (folder / "data").mkdir()
    (folder / "data" / "train.csv").write_text("text,label\ngreat,1\nawful,0\n")


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def test_readme_sessions_are_true(tmp_path):
    steps = [step for block in console_blocks(README) for step in block]
    assert len(steps) >= 12
    folder = tmp_path / "session"
    folder.mkdir()
    make_files(folder)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "mreg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mreg "$@"\n')
    (shim / "mreg").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    # One bash session, so variables set by one command reach the next.
    script = ["set -o pipefail"]
    for n, (command, _) in enumerate(steps):
        script.append(f"{{ {command}\n}} >{out}/{n}.out 2>{out}/{n}.err; echo $? >{out}/{n}.rc")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "MREG_USER": "alice@example.com"}
    env.pop("MREG_REPO", None)
    subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)], cwd=folder, env=env, timeout=120,
                   check=True)
    for n, (command, expected) in enumerate(steps):
        stdout = (out / f"{n}.out").read_text()
        stderr = (out / f"{n}.err").read_text()
        code = int((out / f"{n}.rc").read_text())
        where = f"README command `{command}`:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        assert code == 0, f"exit {code} from {where}"
        actual = stdout.splitlines()
        assert len(actual) == len(expected), f"expected {len(expected)} lines from {where}"
        for want, got in zip(expected, actual):
            assert matches(want, got), f"{got!r} does not match {want!r} in {where}"
