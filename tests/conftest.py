"""Shared fixtures: every test runs against a real registry in a temporary folder,
with the user's own settings and registry out of reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mregtest import Mreg, Result, write_safetensors  # noqa: F401 - re-exported for fixtures
from servers import azure_remote, gcs_remote, s3_remote, sftp_remote  # noqa: F401 - the real storage servers, for every test


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """No test reads the real user config or cache, the real MREG_REPO, or colours."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MREG_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("MREG_CACHE_DIR", str(home / "cache"))  # the clones `--repo URL` and mreg.open(URL) keep
    monkeypatch.setenv("MREG_USER", "tester@example.com")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("MREG_REPO", raising=False)
    monkeypatch.delenv("MREG_DEBUG", raising=False)
    yield


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder with an initialised registry."""
    folder = tmp_path / "project"
    folder.mkdir()
    subprocess.run([sys.executable, "-m", "mreg", "init", str(folder)], check=True, capture_output=True)
    return folder


@pytest.fixture
def mreg(project) -> Mreg:
    """`mreg(...)` runs the CLI inside the initialised project."""
    return Mreg(project)


@pytest.fixture
def registry(project):
    """The same registry through the Python API."""
    import mreg as api

    return api.open(str(project))


@pytest.fixture
def small(mreg, project):
    """A small registry: sentiment 1.0.0-1.0.2 (1.0.1 in production, accuracy 0.90-0.92) and segmenter 1.0.0."""
    artifact = project / "model.bin"
    for i in range(3):
        artifact.write_bytes(f"weights {i}".encode())
        mreg("register", "sentiment", artifact, "-q", "-m", f"accuracy=0.9{i}")
    artifact.write_bytes(b"other")
    mreg("register", "segmenter", artifact, "-q")
    mreg("promote", "sentiment@1.0.1", "--to", "production", "--reason", "test", "-q")
    return project
