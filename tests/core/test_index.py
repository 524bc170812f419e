"""The index: one JSON document per model, read back checked."""

from __future__ import annotations

import json
import os

import pytest

import mreg
from mreg.core.index import iter_model_names, load_model, new_model, parse_model, save_model
from mreg.core.layout import Layout
from mreg.errors import IntegrityError


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout(mreg.init(str(tmp_path / "p")).root)


def test_saved_and_loaded_back(layout):
    assert load_model(layout, "m") is None
    model = new_model("team/m")
    save_model(layout, model)
    assert load_model(layout, "team/m") == model
    assert os.path.isfile(layout.index_path("team/m"))


def test_names_are_listed_in_order_nested_included(layout):
    for name in ("b", "a/x", "a", "c/d/e"):
        save_model(layout, new_model(name))
    assert list(iter_model_names(layout)) == ["a", "a/x", "b", "c/d/e"]


@pytest.mark.parametrize("data", [
    b"{not json",
    b"[]",
    json.dumps({**new_model("m"), "format": "one"}).encode(),
    json.dumps({**new_model("m"), "versions": []}).encode(),
])
def test_damage_is_an_integrity_error(data):
    with pytest.raises(IntegrityError):
        parse_model(data, "/x/_index.json", "m")


def test_an_unknown_format_asks_for_a_newer_mreg():
    with pytest.raises(IntegrityError) as caught:
        parse_model(json.dumps({**new_model("m"), "format": 99}).encode(), "/x", "m")
    assert "upgrade" in (caught.value.hint or "")


def test_an_index_under_another_name_is_refused(layout):
    save_model(layout, new_model("m"))
    os.rename(os.path.dirname(layout.index_path("m")), os.path.join(layout.models, "n"))
    with pytest.raises(IntegrityError):
        load_model(layout, "n")


def test_a_fifo_in_place_of_the_index_is_damage_not_a_hang(layout):
    os.makedirs(os.path.dirname(layout.index_path("m")))
    os.mkfifo(layout.index_path("m"))
    with pytest.raises(IntegrityError):
        load_model(layout, "m")
