"""Shell completion: the committed scripts are the generated ones, and a real
bash sourcing completions/mreg.bash gets names, versions, stages and fields
from a real registry, one short `mreg` process per TAB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import generate_completions  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_committed_scripts_are_the_generated_ones():
    fresh = generate_completions.scripts()
    assert set(fresh) == {"mreg.bash", "_mreg", "mreg.fish"}
    if os.environ.get("MREG_UPDATE_GENERATED"):
        generate_completions.main([])
    for name, content in fresh.items():
        committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
        assert committed == content, f"completions/{name} is stale: run python scripts/generate_completions.py"


@pytest.mark.parametrize("shell, name", [("bash", "mreg.bash"), ("zsh", "_mreg"), ("fish", "mreg.fish")])
def test_show_completion_prints_the_committed_script(mreg, shell, name):
    # What `mreg --install-completion` installs is what `--show-completion` prints.
    r = mreg("--show-completion", shell, env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
    assert r.out.strip() == "\n".join(l for l in committed.splitlines() if l != generate_completions.HEADER).strip()


def test_install_completion_writes_the_bash_script(mreg, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    mreg("--install-completion", "bash", env={"HOME": str(home), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    installed = (home / ".bash_completions" / "mreg.sh").read_text()
    assert "complete -o default -F _mreg_completion mreg" in installed
    assert "source" in (home / ".bashrc").read_text()


@pytest.fixture
def shim(tmp_path) -> Path:
    """A `mreg` on PATH that runs this checkout with this interpreter."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "mreg"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mreg "$@"\n')
    script.chmod(0o755)
    return folder


@pytest.fixture
def models(mreg, project):
    (project / "m.bin").write_bytes(b"weights")
    mreg("register", "sentiment", "m.bin", "-m", "accuracy=0.9", "-q")
    mreg("register", "sentiment", "m.bin", "-m", "f1=0.8", "-t", "team=nlp", "-q")
    mreg("register", "sentence", "m.bin", "-q")
    mreg("register", "fraud/xgb", "m.bin", "-q")
    mreg("promote", "sentiment@1.0.0", "--to", "production", "-q")
    return project


def tab(shim: Path, line: str, cwd: Path, env: dict | None = None) -> list[str]:
    """Press TAB at the end of `line` in a real bash with completions/mreg.bash sourced."""
    script = f"""
set -e
source {ROOT / 'completions' / 'mreg.bash'}
spec=$(complete -p mreg)
[[ "$spec" == *"-F _mreg_completion"* ]] || {{ echo "unexpected: $spec" >&2; exit 9; }}
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_mreg_completion mreg "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    full = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_commands_and_options(shim, models):
    assert {"register", "promote", "diff", "search", "gc"} <= set(tab(shim, "mreg ", models))
    assert "ls" not in tab(shim, "mreg ", models)  # hidden alias
    assert tab(shim, "mreg pro", models) == ["promote"]
    assert {"--to", "--reason", "--json", "--repo"} <= set(tab(shim, "mreg promote --", models))


def test_bash_completes_model_names(shim, models):
    assert tab(shim, "mreg promote se", models) == ["sentence", "sentiment"]
    assert tab(shim, "mreg show fr", models) == ["fraud/xgb"]
    assert tab(shim, "mreg rollback sent", models) == ["sentence", "sentiment"]


def test_bash_completes_versions_and_stages_after_at(shim, models):
    got = tab(shim, "mreg get sentiment@", models)
    assert got == ["sentiment@1.0.1", "sentiment@1.0.0", "sentiment@latest", "sentiment@development",
                   "sentiment@production"]
    assert tab(shim, "mreg diff sentiment@1.0.0 sentiment@pro", models) == ["sentiment@production"]
    assert tab(shim, "mreg history sentiment@1.0.", models) == ["sentiment@1.0.1", "sentiment@1.0.0"]
    assert tab(shim, "mreg get nosuch@", models) == []


def test_bash_completes_stages_and_sort_fields(shim, models):
    assert tab(shim, "mreg transition sentiment@1.0.1 st", models) == ["staging"]
    assert tab(shim, "mreg promote sentiment@1.0.1 --to pro", models) == ["production"]
    assert tab(shim, "mreg search --sort met", models) == ["metrics.accuracy", "metrics.f1"]
    assert tab(shim, "mreg search --sort tags.", models) == ["tags.team"]
    assert "created_at" in tab(shim, "mreg search --sort cr", models)


def test_the_registry_is_found_as_the_command_would_find_it(shim, models, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Outside the project nothing is offered (and nothing is printed)...
    assert tab(shim, "mreg promote se", elsewhere) == []
    # ...unless --repo (after the command or before it) or MREG_REPO names it.
    assert tab(shim, f"mreg get --repo {models} sentiment@1.0.1", elsewhere) == ["sentiment@1.0.1"]
    assert tab(shim, f"mreg --repo {models} show se", elsewhere) == ["sentence", "sentiment"]
    assert tab(shim, "mreg show se", elsewhere, env={"MREG_REPO": str(models)}) == ["sentence", "sentiment"]
    # From a subfolder, the nearest .mreg/ upward.
    sub = models / "deep" / "er"
    sub.mkdir(parents=True)
    assert tab(shim, "mreg show se", sub) == ["sentence", "sentiment"]


def test_a_tab_reads_only_the_index(shim, models):
    # With the object store gone entirely, versions still complete: a TAB
    # touches the index (and config) and nothing else.
    objects = models / ".mreg" / "objects"
    objects.rename(models / "objects-away")
    try:
        assert tab(shim, "mreg get sentiment@1", models) == ["sentiment@1.0.1", "sentiment@1.0.0"]
    finally:
        (models / "objects-away").rename(objects)
