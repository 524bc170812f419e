"""gc: unreferenced objects past the grace period go; referenced ones and dry runs keep everything."""

from __future__ import annotations

import os


def _objects(reg) -> int:
    return sum(len(files) for _, _, files in os.walk(os.path.join(reg.root, "objects")))


def test_only_unreferenced_objects_go_and_only_past_the_grace(reg, artifact):
    reg.register("m", artifact(b"kept"))
    reg.register("m", artifact(b"dropped"))
    reg.remove("m@1.0.1")
    assert _objects(reg) == 2

    inside = reg.gc()  # the default grace keeps a just-unreferenced object
    assert (inside["objects"], inside["pending"]["objects"]) == (0, 1)
    assert _objects(reg) == 2

    dry = reg.gc(grace="0s", dry_run=True)
    assert (dry["objects"], dry["bytes"], dry["dry_run"]) == (1, len(b"dropped"), True)
    assert _objects(reg) == 2

    done = reg.gc(grace="0s")
    assert (done["objects"], done["bytes"]) == (1, len(b"dropped"))
    assert _objects(reg) == 1
    assert reg.verify()["ok"] is True
    assert reg.gc(grace="0s")["objects"] == 0


def test_archived_versions_go_when_asked(reg, artifact):
    reg.register("m", artifact(b"old"))
    reg.register("m", artifact(b"new"))
    reg.transition("m@1.0.0", "archived")
    report = reg.gc(grace="0s", archived_older_than="0s")
    assert report["removed_versions"] == ["m@1.0.0"] and report["objects"] == 1
    assert [d["version"] for d in reg.versions("m")] == ["1.0.1"]
    assert reg.history("m")[0]["action"] == "gc"
