"""remove: a version or a whole model leaves the index; production only with force; dry run changes nothing."""

from __future__ import annotations

import pytest

from mreg.errors import NotFoundError, RefusedError, UsageError


@pytest.fixture
def three(reg, artifact):
    for data in (b"a", b"b", b"c"):
        reg.register("m", artifact(data))
    return reg


def test_remove_one_version(three):
    assert three.remove("m@1.0.1", reason="bad") == ["m@1.0.1"]
    assert [d["version"] for d in three.versions("m")] == ["1.0.0", "1.0.2"]
    with pytest.raises(NotFoundError):
        three.show("m@1.0.1")
    assert three.history("m")[0]["action"] == "rm"


def test_dry_run_says_what_would_go_and_changes_nothing(three):
    assert three.remove("m", all_versions=True, dry_run=True) == ["m@1.0.0", "m@1.0.1", "m@1.0.2"]
    assert len(three.versions("m")) == 3
    assert three.remove("m", all_versions=True) == ["m@1.0.0", "m@1.0.1", "m@1.0.2"]
    assert three.list() == []


def test_production_is_removed_only_with_force(three):
    three.promote("m@1.0.2", to="production")
    for dry_run in (True, False):
        with pytest.raises(RefusedError):
            three.remove("m@1.0.2", dry_run=dry_run)
    assert len(three.versions("m")) == 3
    assert three.remove("m@production", force=True) == ["m@1.0.2"]


@pytest.mark.parametrize("ref, options", [("m", {}), ("m@1.0.0", {"all_versions": True})])
def test_a_model_and_a_version_are_not_confused(three, ref, options):
    with pytest.raises(UsageError):
        three.remove(ref, **options)
    assert len(three.versions("m")) == 3
