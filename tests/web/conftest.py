"""A registry worth looking at, built once through the real command line, with hostile text in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Text that would run if a page put it into HTML unescaped: each sets window.__pwned or the title.
SCRIPT = "<script>window.__pwned='description';document.title='pwned'</script>"
IMG = "<img src=x onerror=\"window.__pwned='img';document.title='pwned'\">"
CLOSE = "</script><script>window.__pwned='json'</script><!--"
HOSTILE_DESCRIPTION = f"fine-tuned {SCRIPT} {IMG}"
HOSTILE_TAG = f"{CLOSE}\u2028"
HOSTILE_REASON = f"better {IMG} {SCRIPT}"

ACCURACY = {"1.0.0": 0.81, "1.0.1": 0.85, "1.0.2": 0.84, "1.0.3": 0.9}
F1 = {"1.0.1": 0.8, "1.0.2": 0.79, "1.0.3": 0.88}  # one version has no f1: its chart has three points


def run(cwd: Path, env: dict, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "mreg", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def environment(home: Path) -> dict:
    env = dict(os.environ, MREG_USER="alice@example.com", MREG_CONFIG_DIR=str(home / "config"), NO_COLOR="1",
               GIT_CONFIG_GLOBAL=str(home / "gitconfig"), GIT_CONFIG_NOSYSTEM="1")
    env.pop("MREG_REPO", None)
    return env


def plant(project: Path, name: str, change) -> None:
    """Edit a model's index as the lineage, alias and deploy commands write it (derived_from, aliases, deployments)."""
    path = project / ".mreg" / "models" / name / "_index.json"
    model = json.loads(path.read_text())
    change(model)
    path.write_text(json.dumps(model, indent=1))


def make_gallery(folder: Path, env: dict) -> Path:
    """sentiment 1.0.0-1.0.3 (1.0.3 a folder, 1.0.2 in production, hostile text in 1.0.3), and team/segmenter 1.0.0
    derived from sentiment@1.0.2."""
    project = folder / "project"
    project.mkdir()
    run(project, env, "init", "-q")
    for version, accuracy in ACCURACY.items():
        args = ["-m", f"accuracy={accuracy}"] + (["-m", f"f1={F1[version]}"] if version in F1 else [])
        if version == "1.0.3":
            artifact = project / "bundle"
            artifact.mkdir()
            (artifact / "weights.bin").write_bytes(b"w" * 3000)
            (artifact / "config.json").write_text('{"layers": 2}')
            args += ["-d", HOSTILE_DESCRIPTION, "-t", f"note={HOSTILE_TAG}", "-p", "lr=0.001"]
        else:
            artifact = project / "model.bin"
            artifact.write_bytes(f"weights {version}".encode())
            args += ["-d", f"sentiment classifier {version}", "-t", "team=nlp", "-p", "lr=0.01"]
        run(project, env, "register", "sentiment", artifact, "-q", "--version", version, *args)
    run(project, env, "promote", "sentiment@1.0.1", "--to", "production", "-r", "first release", "-q")
    run(project, env, "promote", "sentiment@1.0.2", "--to", "production", "-r", HOSTILE_REASON, "-q")
    (project / "seg.bin").write_bytes(b"segmenter")
    run(project, env, "register", "team/segmenter", project / "seg.bin", "-q", "-m", "iou=0.7",
        "--from", "sentiment@1.0.2")
    run(project, env, "deploy", "sentiment@1.0.2", "--env", "prod", "-q")
    run(project, env, "deploy", "sentiment@1.0.3", "--env", "prod", "--traffic", "10", "-q")
    plant(project, "sentiment", lambda m: m.update(aliases={"champion": "1.0.2", "challenger": "1.0.3"}))
    return project


@pytest.fixture(scope="session")
def gallery_env(tmp_path_factory) -> dict:
    return environment(tmp_path_factory.mktemp("gallery-home"))


@pytest.fixture(scope="session")
def gallery(tmp_path_factory, gallery_env) -> Path:
    """The registry's project folder (read only: tests that change a registry make their own)."""
    return make_gallery(tmp_path_factory.mktemp("gallery"), gallery_env)


@pytest.fixture(scope="session")
def gallery_site(gallery, gallery_env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gallery-site") / "site"
    run(gallery, gallery_env, "site", "-o", out, "-q")
    return out
