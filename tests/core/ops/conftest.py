"""In-process fixtures for the operations: a registry made by `mreg.init` in a temporary folder."""

from __future__ import annotations

import pytest

import mreg


@pytest.fixture
def reg(tmp_path):
    """An empty registry, opened through the Python API."""
    return mreg.init(str(tmp_path / "project"))


@pytest.fixture
def artifact(tmp_path):
    """`artifact(b"bytes")` writes a file of those bytes and returns its path as text."""
    count = [0]

    def write(data: bytes, name: str = "model.bin") -> str:
        count[0] += 1
        folder = tmp_path / f"a{count[0]}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        return str(path)

    return write
