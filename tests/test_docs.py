"""Documentation that cannot drift: every command has help with an example and
is in the README and docs/cli.md; the generated reference and examples/ are
current; docs/json.md covers every JSON document; and the examples really run.

Conventions for README.md and docs/*.md:
- ```console blocks are all run, in order, one bash session per file, in a
  fresh folder holding a copy of examples/. A line starting `$ ` is a command
  (it must exit 0); the lines after it are exactly its stdout, where `...`
  matches anything.
- A shell block (```bash, ```sh, ```shell) or a recipe has a marker on the line
  before its fence: `<!-- recipe: KIND -->` (run here: quick-start in
  tests/test_quickstart.py, ci under `bash -eo pipefail`, cron in cron's empty
  environment, share in tests/remote/test_share_recipe.py) or `<!-- not run: why -->`. Every shell block must at least parse.
- ```python blocks are run in a folder holding a copy of examples/; a line
  `EXPRESSION  # LITERAL` checks that the expression equals the literal.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import generate_docs  # noqa: E402
import generate_examples  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_MD = ROOT / "docs" / "cli.md"
DOCS = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
SHELLS = ("bash", "sh", "shell")
RECIPE_KINDS = ("quick-start", "ci", "cron", "share")  # share: tests/remote/test_share_recipe.py


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


def test_examples_are_current():
    assert generate_examples.stale() == [], "examples/ is stale: run python scripts/generate_examples.py"


def test_the_docs_cite_nothing_users_do_not_have():
    for name, text in DOCS.items():
        assert "SPEC" not in text, f"{name} cites the SPEC, which is not part of the project"
        assert not re.search(r"\bissue \d", text), f"{name} cites an issue by number"


def test_json_reference_describes_every_document():
    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    for heading in ("version", "event", "list", "diff", "get", "gc", "verify", "rm", "init", "condition", "error", "alias"):
        assert f"\n## {heading}\n" in text, f"docs/json.md has no section for {heading}"
    for key in ("removed_versions", "dry_run", "problems", "same_artifact", "delta", "digest", "created_at",
                "held_versions", "aliases", "previous"):
        assert key in text


# --- fenced blocks --------------------------------------------------------------

def fenced_blocks(text: str) -> list[tuple[str, str, str]]:
    """[(language, body, marker)] for every fenced block; the marker is the
    `<!-- … -->` comment on the line before the fence, or ''."""
    blocks = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = before[4:-3].strip() if before.startswith("<!--") and before.endswith("-->") else ""
        blocks.append((match.group(1), match.group(2), marker))
    return blocks


def recipes(kind: str) -> list[str]:
    return [body for text in DOCS.values() for _, body, marker in fenced_blocks(text) if marker == f"recipe: {kind}"]


def test_every_shell_block_is_run_or_says_why_not():
    for name, text in DOCS.items():
        for language, body, marker in fenced_blocks(text):
            if marker.startswith("recipe:"):
                assert marker[len("recipe:"):].strip() in RECIPE_KINDS, f"{name}: unknown {marker!r}"
            if language not in SHELLS:
                continue
            where = f"{name}, the block starting {body.splitlines()[0]!r}"
            assert marker.startswith("recipe: ") or (marker.startswith("not run: ") and len(marker) > 20), \
                f"{where}: mark it <!-- recipe: KIND --> ({', '.join(RECIPE_KINDS)}) or <!-- not run: why -->"
            check = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
            assert check.returncode == 0, f"{where} is not valid bash: {check.stderr}"
    for kind in RECIPE_KINDS:
        assert recipes(kind), f"no <!-- recipe: {kind} --> block left: its test would test nothing"


def copy_examples(folder: Path) -> None:
    """The files every example works on: a copy of examples/."""
    shutil.copytree(ROOT / "examples", folder, dirs_exist_ok=True)


def mreg_on_path(tmp_path: Path) -> dict:
    """An environment whose `mreg` is this checkout's, run by this interpreter."""
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "mreg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mreg "$@"\n')
    (shim / "mreg").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "MREG_USER": "alice@example.com"}
    env.pop("MREG_REPO", None)
    return env


# --- console sessions -------------------------------------------------------------

def console_blocks(text: str) -> list[list[tuple[str, list[str]]]]:
    """[[(command, expected stdout lines)]] for every ```console block."""
    blocks = []
    for language, body, _ in fenced_blocks(text):
        if language != "console":
            continue
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


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def test_console_blocks_are_found_wherever_they_are():
    assert len(console_blocks(README)) >= 3
    sample = "text\n\n```console\n$ mreg list\n```\n\n- item\n\n  ```console\n  $ mreg verify\n  ```\n"
    # An indented block (in a list) would escape the runner: the runner must see it or the docs must not hold one.
    assert len(console_blocks(sample)) == 1
    for name, text in DOCS.items():
        indented = re.findall(r"^[ \t]+```console", text, re.M)
        assert not indented, f"{name}: an indented ```console block is never run; put it at the start of a line"


@pytest.mark.parametrize("name", [name for name, text in DOCS.items() if console_blocks(text)])
def test_console_sessions_are_true(tmp_path, name):
    steps = [step for block in console_blocks(DOCS[name]) for step in block]
    if name == "README.md":
        assert len(steps) >= 12
    folder = tmp_path / "session"
    copy_examples(folder)
    out = tmp_path / "out"
    out.mkdir()
    # One bash session, so variables set by one command reach the next.
    script = ["set -o pipefail"]
    for n, (command, _) in enumerate(steps):
        script.append(f"{{ {command}\n}} >{out}/{n}.out 2>{out}/{n}.err; echo $? >{out}/{n}.rc")
    subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)], cwd=folder, env=mreg_on_path(tmp_path),
                   timeout=120, check=True)
    for n, (command, expected) in enumerate(steps):
        stdout = (out / f"{n}.out").read_text()
        stderr = (out / f"{n}.err").read_text()
        code = int((out / f"{n}.rc").read_text())
        where = f"{name} command `{command}`:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        assert code == 0, f"exit {code} from {where}"
        actual = stdout.splitlines()
        assert len(actual) == len(expected), f"expected {len(expected)} lines from {where}"
        for want, got in zip(expected, actual):
            assert matches(want, got), f"{got!r} does not match {want!r} in {where}"


# --- recipes ----------------------------------------------------------------------

def _json(env: dict, cwd: Path, *args: str):
    done = subprocess.run(["mreg", *args, "--json"], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("history,accuracy,outcome", [
    ("none", "0.91", "promoted"),            # a first release: not even a registry yet
    ("registry", "0.91", "promoted"),        # a registry, no production version yet
    ("production", "0.94", "promoted"),      # a later release that beats production
    ("production", "0.90", "archived"),      # one that does not
    ("production", "0.91", "archived"),      # a tie keeps the version in production
    ("rerun", "0.94", "promoted"),           # the same job run again on the same bytes: nothing new
])
def test_ci_recipes_run_under_bash_errexit_pipefail(tmp_path, history, accuracy, outcome):
    folder = tmp_path / "job"
    folder.mkdir()
    env = mreg_on_path(tmp_path)
    old = folder / "old.safetensors"
    old.write_bytes(b"the production model")
    if history != "none":
        subprocess.run(["mreg", "init", "-q"], cwd=folder, env=env, check=True)
    if history in ("production", "rerun"):
        subprocess.run(["mreg", "register", "sentiment", "old.safetensors", "-m", "accuracy=0.91", "--stage",
                        "production", "-q"], cwd=folder, env=env, check=True)
    shutil.copy(ROOT / "examples" / "sentiment.safetensors", folder / "model.safetensors")
    # GitHub Actions runs a step's script as `bash --noprofile --norc -eo pipefail {0}`.
    script = folder / "step.sh"
    script.write_text("\n".join(recipes("ci")))
    for _ in range(2 if history == "rerun" else 1):
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=folder,
                              env={**env, "ACCURACY": accuracy, "CI_JOB": "1234"}, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and done.stdout == "", done
    versions = {d["version"]: d for d in _json(env, folder, "show", "sentiment")}
    if history == "rerun":
        assert len(versions) == 2 and "nothing to do" in done.stderr
    candidate = versions["1.0.0" if history in ("none", "registry") else "1.0.1"]
    assert candidate["metrics"]["accuracy"] == float(accuracy) and candidate["tags"]["ci_job"] == "1234"
    deployed = (folder / "deploy" / "model.safetensors").read_bytes()
    if outcome == "promoted":
        assert candidate["stage"] == "production"
        assert deployed == (folder / "model.safetensors").read_bytes()
        if history in ("production", "rerun"):
            assert versions["1.0.0"]["stage"] == "deprecated"
    else:
        assert candidate["stage"] == "archived"
        assert versions["1.0.0"]["stage"] == "production" and deployed == old.read_bytes()


def test_the_cron_line_runs_in_crons_environment(tmp_path, project, mreg):
    lines = [line for body in recipes("cron") for line in body.splitlines() if line.strip()]
    assert len(lines) == 1
    schedule, command = lines[0].split(None, 5)[:5], lines[0].split(None, 5)[5]
    assert len(schedule) == 5
    documented = re.search(r"(/\S+/mreg)\b", command)
    assert documented, f"the cron line must call mreg by its absolute path (cron's PATH is /usr/bin:/bin): {command}"
    # This checkout's `mreg`: the console script next to the interpreter, else a launcher for it.
    executable = shutil.which("mreg", path=os.path.dirname(sys.executable))
    if executable is None:
        executable = str(mreg_on_path(tmp_path)["PATH"].split(os.pathsep)[0] + "/mreg")
    command = command.replace("/srv/models", str(project)).replace(documented.group(1), executable)
    (project / "m.bin").write_bytes(b"removed weights")
    mreg("register", "m", "m.bin", "-q")
    (project / "m.bin").write_bytes(b"kept weights")
    mreg("register", "m", "m.bin", "-q")
    mreg("rm", "m@1.0.0", "-q")
    config = project / ".mreg" / "config.toml"
    config.write_text(config.read_text().replace('grace = "24h"', 'grace = "0s"'))
    home = tmp_path / "home"
    home.mkdir()
    # The environment cron gives a job (see crontab(5)), and nothing else.
    cron_env = ["env", "-i", f"HOME={home}", "LOGNAME=cron", "SHELL=/bin/sh", "PATH=/usr/bin:/bin",
                f"MREG_CONFIG_DIR={home}/config"]
    done = subprocess.run([*cron_env, "/bin/sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    events = mreg("history", "m", "--json").json
    assert events[0]["action"] == "rm"  # gc ran: the removed version's bytes are gone, the other's stay
    assert mreg("verify", "--json").json["checked"]["objects"] == 1
    assert len([p for p in (project / ".mreg" / "objects").rglob("*") if p.is_file()]) == 1


# --- Python blocks ---------------------------------------------------------------

def checked_python(body: str) -> str:
    """The block with each `EXPRESSION  # LITERAL` line turned into an assertion."""
    out = []
    for line in body.splitlines():
        code, sep, comment = line.partition("  # ")
        if sep and code and not code[0].isspace():
            try:
                expected = ast.literal_eval(comment.strip())
                ast.parse(code, mode="eval")
            except (SyntaxError, ValueError):
                pass
            else:
                out.append(f"assert ({code}) == {expected!r}, ({code!r}, {code})")
                continue
        out.append(line)
    return "\n".join(out)


def test_checked_python_checks_each_commented_result():
    assert checked_python("x = 1\nx + 1  # 2\nf()  # a comment") == "x = 1\nassert (x + 1) == 2, ('x + 1', x + 1)\nf()  # a comment"


@pytest.mark.parametrize("name", [name for name, text in DOCS.items() if any(lang == "python" for lang, _, _ in fenced_blocks(text))])
def test_python_blocks_run(tmp_path, name):
    blocks = [body for lang, body, _ in fenced_blocks(DOCS[name]) if lang == "python"]
    folder = tmp_path / "work"
    copy_examples(folder)
    for body in blocks:
        program = checked_python(body)
        assert program.count("assert (") >= (3 if name == "README.md" else 0)
        done = subprocess.run([sys.executable, "-c", program], cwd=folder, env=mreg_on_path(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: the Python block failed:\n{done.stderr}"
    if name == "README.md":
        assert (folder / "serving" / "model.safetensors").read_bytes() == (folder / "sentiment.safetensors").read_bytes()
