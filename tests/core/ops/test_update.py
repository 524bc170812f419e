"""update: metadata changes recorded old → new; the artifact never changes."""

from __future__ import annotations

import pytest

from mreg.errors import NotFoundError, UsageError


def test_update_sets_and_unsets_metadata_and_keeps_the_artifact(reg, artifact):
    before = reg.register("m", artifact(b"x"), metrics=["acc=0.5"], tags=["team=a"])
    after = reg.update("m@1.0.0", metrics=["acc=0.7", "f1=0.6"], description="better", unset=["tags.team"])
    assert after["metrics"] == {"acc": 0.7, "f1": 0.6}
    assert after["tags"] == {} and after["description"] == "better"
    assert (after["digest"], after["size"], after["version"]) == (before["digest"], before["size"], "1.0.0")
    assert reg.show("m@1.0.0") == {**after, "aliases": []}
    event = reg.history("m")[0]
    assert event["action"] == "update"


def test_refused_updates_change_nothing(reg, artifact):
    before = reg.register("m", artifact(b"x"), metrics=["acc=0.5"])
    with pytest.raises(UsageError):
        reg.update("m@1.0.0", metrics=["acc"])
    with pytest.raises(NotFoundError):
        reg.update("m@2.0.0", metrics=["acc=1"])
    assert reg.show("m@1.0.0") == {**before, "aliases": []}
    assert [e["action"] for e in reg.history("m")] == ["register"]
