"""verify: re-hashes every object, reports damage as problems and never raises for it."""

from __future__ import annotations

import os


def test_a_sound_registry_verifies(reg, artifact):
    reg.register("m", artifact(b"a"))
    reg.register("n", artifact(b"b"))
    report = reg.verify()
    assert report["ok"] is True and report["problems"] == []
    assert report["checked"]["versions"] == 2
    assert reg.verify("m@1.0.0")["checked"]["versions"] == 1


def test_a_changed_object_is_a_problem_naming_the_version(reg, artifact):
    reg.register("m", artifact(b"good bytes"))
    path = reg.object_path("m@1.0.0")
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(b"evil bytes")
    report = reg.verify()
    assert report["ok"] is False and len(report["problems"]) == 1
    assert "m@1.0.0" in str(report["problems"][0])


def test_a_missing_object_is_a_problem(reg, artifact):
    reg.register("m", artifact(b"gone"))
    os.remove(reg.object_path("m@1.0.0"))
    report = reg.verify()
    assert report["ok"] is False and report["problems"]
