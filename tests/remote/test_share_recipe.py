"""The README's "Share a registry" recipe, run as written (the shared folder in a temporary one)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mregtest import Mreg

from .test_remotes import fill, registry

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_share_recipe_runs(tmp_path):
    blocks = re.findall(r"^<!-- recipe: share -->\n```bash\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    assert len(blocks) == 1
    team = tmp_path / "team"
    script = blocks[0].replace("/mnt/team/models", str(team))
    a = registry(tmp_path, "a")
    fill(a, 2)
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=a.cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    teammate = Mreg(a.cwd / "models")
    assert teammate("list", "--json").json == a("list", "--json").json
    assert teammate("history", "--json").json == a("history", "--json").json
