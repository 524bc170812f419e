"""get: a version's bytes written where asked, never over a file unless forced."""

from __future__ import annotations

import os

import pytest

from mreg.errors import NotFoundError, RefusedError


def test_get_writes_the_bytes_of_the_version_resolved(reg, artifact, tmp_path):
    reg.register("m", artifact(b"one"))
    reg.register("m", artifact(b"two"))
    out = tmp_path / "out" / "deep" / "m.bin"
    assert reg.get("m@1.0.0", str(out)) == str(out)
    assert out.read_bytes() == b"one"
    got = reg.get_version("m@latest", str(tmp_path / "latest.bin"))
    assert (got["name"], got["version"]) == ("m", "1.0.1")
    assert got["digest"] == reg.show("m@1.0.1")["digest"]
    assert (tmp_path / "latest.bin").read_bytes() == b"two"


def test_an_existing_file_is_replaced_only_with_force(reg, artifact, tmp_path):
    reg.register("m", artifact(b"new"))
    target = tmp_path / "there.bin"
    target.write_bytes(b"mine")
    with pytest.raises(RefusedError):
        reg.get("m@1.0.0", str(target))
    assert target.read_bytes() == b"mine"
    reg.get("m@1.0.0", str(target), force=True)
    assert target.read_bytes() == b"new"


def test_a_directory_comes_back_file_for_file(reg, tmp_path):
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"a")
    (folder / "sub" / "b.txt").write_bytes(b"bb")
    reg.register("d", str(folder))
    out = tmp_path / "back"
    reg.get("d@1.0.0", str(out))
    assert (out / "a.txt").read_bytes() == b"a" and (out / "sub" / "b.txt").read_bytes() == b"bb"


def test_object_path_is_the_read_only_stored_file(reg, artifact):
    reg.register("m", artifact(b"stored"))
    path = reg.object_path("m@1.0.0")
    assert open(path, "rb").read() == b"stored"
    assert os.stat(path).st_mode & 0o222 == 0


@pytest.mark.parametrize("ref", ["nobody@1.0.0", "m@9.9.9", "m@production"])
def test_what_does_not_exist_is_not_found(reg, artifact, tmp_path, ref):
    reg.register("m", artifact(b"x"))
    with pytest.raises(NotFoundError):
        reg.get(ref, str(tmp_path / "out.bin"))
    assert not (tmp_path / "out.bin").exists()
