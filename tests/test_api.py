"""The Python API: `import mreg`, the same core the command uses, returning plain data."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

import mreg
from mreg.errors import ExitCode, IntegrityError, NotFoundError, RefusedError, UsageError


def _plain(value) -> bool:
    """Only dicts, lists, strings, numbers, booleans and None, all the way down."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_init_open_register_show_versions_list_get_verify(tmp_path, monkeypatch):
    project = tmp_path / "project"
    registry = mreg.init(str(project))
    assert isinstance(registry, mreg.Registry)
    assert (project / ".mreg" / "config.toml").is_file()
    data = b"api weights"
    (tmp_path / "m.bin").write_bytes(data)

    doc = registry.register("m", str(tmp_path / "m.bin"), metrics=["acc=0.9"], params=["lr=3e-4"], tags=["t=x"],
                            description="first")
    assert _plain(doc)
    assert json.loads(json.dumps(doc)) == doc
    assert (doc["name"], doc["version"], doc["stage"], doc["kind"]) == ("m", "1.0.0", "development", "file")
    assert doc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert doc["metrics"] == {"acc": 0.9} and doc["params"] == {"lr": 0.0003} and doc["tags"] == {"t": "x"}

    second = registry.register("m", str(tmp_path / "m.bin"), bump="minor")
    assert second["version"] == "1.1.0"

    # mreg.open finds the same registry by path, by MREG_REPO, and upward from the current directory.
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    for opened in (mreg.open(str(project)), mreg.open(str(project / ".mreg")), mreg.open()):
        assert opened.root == registry.root
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MREG_REPO", str(project))
    assert mreg.open().root == registry.root

    # As `mreg show`: a bare NAME is every version (the list `mreg show m --json` prints), NAME@… one.
    assert [v["version"] for v in registry.show("m")] == ["1.0.0", "1.1.0"]
    assert registry.show("m") == registry.versions("m")
    assert registry.show("m@1.0.0") == {**doc, "aliases": []}  # show adds the aliases pointing at it
    assert registry.show("m@latest")["version"] == "1.1.0"
    assert registry.show("m@development")["version"] == "1.1.0"
    versions = registry.versions("m")
    assert [v["version"] for v in versions] == ["1.0.0", "1.1.0"] and _plain(versions)
    listing = registry.list()
    assert _plain(listing)
    assert [(r["name"], r["versions"], r["latest"], r["production"]) for r in listing] == [("m", 2, "1.1.0", None)]

    written = registry.get("m@1.0.0", str(tmp_path / "out.bin"))
    assert written == str(tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    stored = registry.object_path("m@1.0.0")
    assert open(stored, "rb").read() == data
    assert os.stat(stored).st_mode & 0o777 == 0o444

    report = registry.verify()
    assert _plain(report)
    assert report["ok"] is True and report["problems"] == []
    assert report["checked"]["versions"] == 2


def test_api_errors_carry_exit_codes(registry, tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(UsageError) as caught:
        registry.register("Bad Name", str(tmp_path / "f"))
    assert caught.value.exit_code == ExitCode.USAGE
    with pytest.raises(NotFoundError) as caught:
        registry.show("nosuch")
    assert caught.value.exit_code == ExitCode.REFUSED
    registry.register("m", str(tmp_path / "f"))
    with pytest.raises(RefusedError):
        registry.register("m", str(tmp_path / "f"), version="1.0.0")
    with pytest.raises(mreg.MregError):
        registry.show("m@9.9.9")
    assert issubclass(IntegrityError, mreg.MregError)


def test_open_without_a_registry_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError) as caught:
        mreg.open()
    # Told in Python's words, as the command line is told in its own.
    assert caught.value.hint == "run: mreg.init(PATH)   (or pass a path to mreg.open(), or set MREG_REPO)"
    with pytest.raises(NotFoundError):
        mreg.open(str(tmp_path / "nowhere"))


def test_api_and_cli_see_the_same_registry(registry, mreg, project):
    (project / "f.bin").write_bytes(b"shared")
    mreg("register", "m", "f.bin", "-m", "acc=1")
    assert registry.show("m@1.0.0") == mreg("show", "m@1.0.0", "--json").json
    doc = registry.register("m", str(project / "f.bin"))
    assert mreg("show", "m", "--json").json == registry.versions("m")
    assert doc["version"] == "1.0.1"


def test_the_api_takes_pathlib_paths_wherever_it_takes_a_path(tmp_path):
    from pathlib import Path

    registry = mreg.init(tmp_path / "proj")
    registry = mreg.open(tmp_path / "proj")
    (tmp_path / "m.bin").write_bytes(b"weights")
    (tmp_path / "meta.json").write_text('{"metrics": {"acc": 0.5}}')
    doc = registry.register("m", tmp_path / "m.bin", metadata_file=tmp_path / "meta.json")
    assert doc["metrics"] == {"acc": 0.5}
    written = registry.get("m", tmp_path / "copy.bin")
    assert Path(written).read_bytes() == b"weights"
    with pytest.raises(UsageError):
        registry.get("m", "")


def test_metadata_as_dicts_from_python(tmp_path):
    """A notebook passes typed dicts; the CLI passes K=V strings; both land the same."""
    import mreg
    from mreg.errors import UsageError

    registry = mreg.init(str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"weights")
    doc = registry.register("m", str(tmp_path / "m.bin"), metrics={"accuracy": 0.93, "epochs": 3},
                            params={"lr": 3e-4, "layers": [64, 32]}, tags={"team": "nlp"})
    assert doc["metrics"] == {"accuracy": 0.93, "epochs": 3}
    assert doc["params"] == {"lr": 3e-4, "layers": [64, 32]} and doc["tags"] == {"team": "nlp"}
    updated = registry.update("m@1.0.0", metrics={"f1": 0.9}, tags=["reviewed=yes"])
    assert updated["metrics"] == {"accuracy": 0.93, "epochs": 3, "f1": 0.9} and updated["tags"]["reviewed"] == "yes"
    for bad in ({"metrics": {"acc": "high"}}, {"metrics": {"acc": True}}, {"tags": {"t": 1}},
                {"metrics": {"acc": float("nan")}}, {"metrics": "acc=0.9"}):
        with pytest.raises(UsageError):
            registry.register("m", str(tmp_path / "m.bin"), **bad)
    assert [v["version"] for v in registry.versions("m")] == ["1.0.0"]


def test_show_agrees_with_the_command_line(registry, mreg, project):
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin", "-m", "acc=0.9")
    mreg("register", "m", "m.bin", "-m", "acc=0.95")
    for ref in ("m", "m@latest", "m@1.0.0"):
        assert registry.show(ref) == mreg("show", ref, "--json").json, ref
    assert isinstance(registry.show("m"), list) and registry.show("m@latest")["version"] == "1.0.1"


def test_a_registry_shows_where_it_is(tmp_path):
    registry = mreg.init(str(tmp_path))
    assert repr(registry) == f"<mreg.Registry {tmp_path / '.mreg'}>"


def test_datasets_are_a_mapping_and_errors_name_the_api_parameters(tmp_path):
    registry = mreg.init(str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"x")
    (tmp_path / "train.csv").write_text("a,b\n")
    doc = registry.register("m", str(tmp_path / "m.bin"), datasets={"train": str(tmp_path / "train.csv"),
                                                                   "eval": "s3://bucket/eval.csv"})
    assert doc["datasets"]["train"]["digest"].startswith("sha256:") and doc["datasets"]["eval"] == {"uri": "s3://bucket/eval.csv"}
    # Each refusal names what the Python caller wrote, never a command-line option.
    calls = [
        (lambda: registry.register("m", str(tmp_path / "m.bin"), metrics=["accuracy"]), "metrics expects KEY=VALUE"),
        (lambda: registry.register("m", str(tmp_path / "m.bin"), datasets=["train"]), "datasets expects KEY=VALUE"),
        (lambda: registry.register("m", str(tmp_path / "m.bin"), datasets="train=x"), "datasets takes a dict"),
        (lambda: registry.register("m", str(tmp_path / "m.bin"), bump="huge"), "invalid bump 'huge'"),
        (lambda: registry.register("m", str(tmp_path / "m.bin"), bump="minor", version="2.0.0"),
         "version and bump do not go together"),
        (lambda: registry.get("m@latest", str(tmp_path / "m.bin")), "already exists"),
        (lambda: registry.history("m", limit=-1), "limit must be 0 or more"),
        (lambda: registry.remove("m@1.0.0", all_versions=True), "all_versions=True takes a model name"),
    ]
    for call, words in calls:
        with pytest.raises(mreg.MregError) as caught:
            call()
        text = f"{caught.value.message} {caught.value.hint or ''}"
        assert words in text, text
        assert "--" not in text and "-o/" not in text, text
    with pytest.raises(mreg.MregError) as caught:
        registry.get("m@latest", str(tmp_path / "m.bin"))
    assert caught.value.hint == "pass force=True to replace it"


def test_the_command_line_still_names_its_options(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    assert "--metric expects KEY=VALUE" in mreg("register", "m", "m.bin", "-m", "accuracy", expect=2).err
    assert "--dataset expects KEY=VALUE" in mreg("register", "m", "m.bin", "--dataset", "train", expect=2).err
    assert "invalid --bump 'huge'" in mreg("register", "m", "m.bin", "--bump", "huge", expect=2).err
    mreg("register", "m", "m.bin")
    assert "hint: pass --force to replace it" in mreg("get", "m", "-o", "m.bin", expect=1).err
