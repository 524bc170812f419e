"""Layout: where things live in `.mreg/`, and how a registry is found."""

from __future__ import annotations

import os

import pytest

import mreg
from mreg.core.layout import Layout, find_registry
from mreg.errors import NotFoundError


def test_paths_of_a_registry():
    layout = Layout("/r/.mreg")
    assert layout.config == "/r/.mreg/config.toml"
    assert layout.object_path("abcdef") == "/r/.mreg/objects/ab/cdef"
    assert layout.index_path("team/m") == "/r/.mreg/models/team/m/_index.json"
    assert layout.history_path("m") == "/r/.mreg/models/m/_history.jsonl"


def test_found_by_argument_by_variable_and_upward(tmp_path, monkeypatch):
    root = mreg.init(str(tmp_path / "p")).root
    assert find_registry(str(tmp_path / "p")).root == root
    assert find_registry(root).root == root
    nested = tmp_path / "p" / "a" / "b"
    nested.mkdir(parents=True)
    assert find_registry(start=str(nested)).root == root
    monkeypatch.setenv("MREG_REPO", str(tmp_path / "p"))
    assert find_registry(start=str(tmp_path)).root == root


def test_not_found_names_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(NotFoundError) as caught:
        find_registry(str(tmp_path / "nothing"))
    assert "mreg init" in (caught.value.hint or "")
    with pytest.raises(NotFoundError):
        find_registry(start=str(tmp_path))
    # A folder that only looks like a registry (no config.toml) is none.
    os.makedirs(tmp_path / "fake" / ".mreg")
    with pytest.raises(NotFoundError):
        find_registry(str(tmp_path / "fake"))
