"""A newcomer's first minutes: the README's quick start, run as written in a
fresh clone of the repository, with a fresh virtual environment and
`pip install .` from PyPI (about a minute; the one test here that needs the
network).

The block is the README's `<!-- recipe: quick-start -->` block, taken from the
clone itself, and runs under `bash -eo pipefail` from the clone's top folder,
as a user pasting it would. Only the committed HEAD is cloned: commit first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs git and a git checkout")


def quick_start(readme: str) -> str:
    blocks = re.findall(r"^<!-- recipe: quick-start -->\n```bash\n(.*?)^```", readme, re.S | re.M)
    assert len(blocks) == 1, "README.md needs exactly one <!-- recipe: quick-start --> ```bash block"
    return blocks[0]


def test_the_readme_quick_start_works_in_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True, timeout=120)
    block = quick_start((clone / "README.md").read_text(encoding="utf-8"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    where = tmp_path / "where"
    # A user's shell: no virtual environment active, no mreg of ours on PATH, nothing of this test run's.
    outer = os.path.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and os.path.abspath(p) != outer)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MREG_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PATH=path, TMPDIR=str(scratch), MREG_CONFIG_DIR=str(tmp_path / "config"),
               MREG_USER="newcomer@example.com", PIP_REQUIRE_VIRTUALENV="1")  # never into this machine's Python
    script = tmp_path / "quick-start.sh"
    # The block as written; then where it left the shell, to look at what it made.
    script.write_text(f"{block}\npwd >{where}\n")
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the quick start failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert "mreg: error" not in done.stderr

    demo = Path(where.read_text().strip())
    assert demo.parent == scratch, "the quick start must work in a scratch folder, not in the clone"
    assert not (clone / ".mreg").exists()
    mreg = clone / ".venv" / "bin" / "mreg"
    shown = subprocess.run([str(mreg), "show", "sentiment", "--json"], cwd=demo, env=env, capture_output=True,
                           text=True, check=True)
    versions = {d["version"]: d for d in json.loads(shown.stdout)}
    assert {v: d["stage"] for v, d in versions.items()} == {"1.0.0": "production", "1.1.0": "development"}
    first = versions["1.0.0"]
    assert (first["format"], first["kind"], first["metrics"]["accuracy"]) == ("safetensors", "file", 0.91)
    assert first["tags"] == {"team": "nlp"} and first["metadata"]["inputs"]["vocabulary"] == 64
    assert versions["1.1.0"]["kind"] == "directory" and versions["1.1.0"]["files"] == 2
    served = (demo / "serving" / "model.safetensors").read_bytes()
    assert served == (clone / "examples" / "sentiment.safetensors").read_bytes()
    verified = subprocess.run([str(mreg), "verify", "--json"], cwd=demo, env=env, capture_output=True, text=True)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True
