"""config.toml: the lifecycle table is data, validated with errors that name the key."""

from __future__ import annotations

import copy

import pytest

from mreg.core.config import default_config, load_config, parse_lifecycle, render_config
from mreg.errors import ExitCode, IntegrityError


def lifecycle(**changes):
    table = copy.deepcopy(default_config()["lifecycle"])
    table.update(changes)
    return table


def test_defaults_round_trip(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(render_config(default_config()))
    config = load_config(str(path))
    life = config.lifecycle
    assert life.initial == "development" and life.release == "production"
    assert life.exclusive == frozenset({"production"})
    assert life.allowed("staging", "production") and not life.allowed("development", "production")
    assert not life.allowed("archived", "development")
    assert (config.gc_grace, config.gc_archived_older_than) == ("24h", "")


def test_a_custom_table_is_honoured():
    table = lifecycle(stages=["draft", "live", "gone"], initial="draft", promotion=["draft", "live"],
                      exclusive=["live"], retired="gone", archived="gone",
                      transitions={"draft": ["live"], "live": ["gone"]})
    life = parse_lifecycle(table)
    assert life.release == "live" and life.allowed("draft", "live") and not life.allowed("gone", "draft")


@pytest.mark.parametrize("changes, key", [
    ({"transitions": {"development": ["qa"]}}, "lifecycle.transitions.development"),
    ({"transitions": {"qa": []}}, "lifecycle.transitions.qa"),
    ({"transitions": {"development": "testing"}}, "lifecycle.transitions.development"),
    ({"promotion": ["development", "testing", "development"]}, "lifecycle.promotion"),
    ({"promotion": ["development", "qa"]}, "lifecycle.promotion"),
    ({"promotion": []}, "lifecycle.promotion"),
    ({"exclusive": ["live"]}, "lifecycle.exclusive"),
    ({"initial": "draft"}, "lifecycle.initial"),
    ({"retired": "gone"}, "lifecycle.retired"),
    ({"stages": []}, "lifecycle.stages"),
    ({"stages": ["development", "development"]}, "lifecycle.stages"),
    ({"stages": ["Development"]}, "lifecycle.stages"),
    ({"stages": ["latest"]}, "lifecycle.stages"),
    ({"transitions": None}, "lifecycle.transitions"),
])
def test_invalid_tables_name_the_key(changes, key):
    table = lifecycle(**changes)
    if changes.get("transitions", 0) is None:
        del table["transitions"]
    with pytest.raises(IntegrityError) as caught:
        parse_lifecycle(table)
    assert caught.value.message.startswith(f"invalid config.toml: {key}:")
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == ExitCode.INTEGRITY


def test_missing_lifecycle_table():
    with pytest.raises(IntegrityError, match="invalid config.toml: lifecycle: missing table"):
        parse_lifecycle(None)


@pytest.mark.parametrize("text, fragment", [
    ("format = 1\n", "lifecycle: missing table"),
    ("lifecycle = 3\n", "format"),
    ("format = 99\n", "newer than this mreg"),
    ("format = [1\n", "config.toml is damaged"),
    ('format = 1\ngc = "x"\n', "gc: not a table"),
])
def test_damaged_files(tmp_path, text, fragment):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(IntegrityError) as caught:
        load_config(str(path))
    assert fragment in caught.value.message


def test_missing_file(tmp_path):
    with pytest.raises(IntegrityError, match="missing"):
        load_config(str(tmp_path / "config.toml"))


@pytest.mark.parametrize("key, value", [("grace", "forever"), ("grace", ""), ("archived_older_than", "30 days")])
def test_a_gc_default_that_is_not_a_duration_names_the_config_key(tmp_path, key, value):
    # Otherwise `mreg gc -q` in cron says only "invalid duration", as if the command line were wrong.
    data = default_config()
    data["gc"][key] = value
    path = tmp_path / "config.toml"
    path.write_bytes(render_config(data))
    with pytest.raises(IntegrityError) as caught:
        load_config(str(path))
    assert f"config.toml: gc.{key}:" in caught.value.message and caught.value.exit_code == ExitCode.INTEGRITY
