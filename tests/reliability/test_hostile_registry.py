"""A registry is hostile input: it may be edited by hand or copied from another
machine. One hand edit per case to a file under `.mreg/` (an index, a history,
config.toml, a manifest); then every command that reads it ends with exit 3
and one `mreg: error:` line naming the file, never a traceback, and a write
refused this way changes nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rel import FULL, cli, init_registry, tally

MODEL = Path(".mreg/models/m")
INDEX = MODEL / "_index.json"
HISTORY = MODEL / "_history.jsonl"
CONFIG = Path(".mreg/config.toml")


@pytest.fixture
def project(tmp_path) -> Path:
    """`mreg init && echo a > a.bin && mreg register m a.bin`."""
    project = init_registry(tmp_path / "project")
    (project / "a.bin").write_text("a\n")
    cli(project, "register", "m", "a.bin", "-q", expect=0)
    return project


def registry_digest(project: Path) -> dict[str, str]:
    """Every file under `.mreg/` and its digest; the lock file and the derived cache are left out
    (taking the lock creates one, and any reader may rebuild the other)."""
    root = project / ".mreg"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))
            if p.name != "lock" and "cache" not in p.relative_to(root).parts}


def refused(project: Path, *args: str, names: str) -> None:
    """Run a command that must stop with exit 3 and one error line naming the file `names`."""
    run = cli(project, *args)
    assert run.code == 3, run
    errors = [line for line in run.err.splitlines() if line.startswith("mreg: error:")]
    assert len(errors) == 1 and run.err.startswith("mreg: error:") and len(run.err.splitlines()) <= 2, run
    assert names in (run.err if args[0] != "verify" else run.out + run.err), run
    tally("hostile registry: commands refused", 1)


def edit_index(project: Path, change) -> None:
    path = project / INDEX
    model = json.loads(path.read_text())
    change(model, model["versions"]["1.0.0"])
    path.write_text(json.dumps(model))


def _set(key, value):
    return lambda model, record: record.__setitem__(key, value)


def _set_model(key, value):
    return lambda model, record: model.__setitem__(key, value)


def _set_history(key, value):
    return lambda model, record: model["history"].__setitem__(key, value)


INDEX_EDITS = {
    "metrics is a list": _set("metrics", []),
    "metrics is null": _set("metrics", None),
    "tags is a list": _set("tags", ["a"]),
    "tags is null": _set("tags", None),
    "params is a list": _set("params", []),
    "params is null": _set("params", None),
    "datasets is a list": _set("datasets", []),
    "datasets is null": _set("datasets", None),
    "a dataset is text": _set("datasets", {"train": "s3://x"}),
    "a metric is text": _set("metrics", {"acc": "high"}),
    "a tag is a number": _set("tags", {"team": 5}),
    "stage_changed_at is a number": _set("stage_changed_at", 5),
    "created_at is not a time": _set("created_at", "yesterday"),
    "size is text": _set("size", "2"),
    "size is negative": _set("size", -1),
    "digest is malformed": _set("digest", "sha256:../../etc/passwd"),
    "kind is unknown": _set("kind", "folder"),
    "stage is a number": _set("stage", 5),
    "description is a list": _set("description", ["x"]),
    "filename is a number": _set("filename", 5),
    "dtypes is text": _set("dtypes", "F32"),
    "parameters is negative": _set("parameters", -5),
    "lineage is a list": _set("lineage", []),
    "lineage.git_commit is a number": _set("lineage", {"git_commit": 5}),
    "metadata is a list": _set("metadata", []),
    "derived_from is text": _set("derived_from", "m@1.0.0"),
    "derived_from holds a path": _set("derived_from", ["../../etc@1.0.0"]),
    "derived_from holds a non-version": _set("derived_from", ["m@latest"]),
    "removed is missing": lambda model, record: model.pop("removed"),
    "released is a number": _set_model("released", 5),
    "released holds a number": _set_model("released", [5]),
    "removed holds a non-version": _set_model("removed", ["x"]),
    "versions is a list": _set_model("versions", []),
    "name is a number": _set_model("name", 5),
    "format is text": _set_model("format", "1"),
    "history is a list": _set_model("history", []),
    "history.events is text": _set_history("events", "x"),
    "history.events is -1": _set_history("events", -1),
    "history.events is 0": _set_history("events", 0),
    "history.events is true": _set_history("events", True),
    "history.bytes is negative": _set_history("bytes", -478),
    "history.bytes is a float": _set_history("bytes", 1.5),
    "history.head is not a digest": _set_history("head", "x"),
}


# Every command reads the index through one parser; these cases also run every command
# at the CI scale, the others one reader and one writer (all of them with MREG_FULL=1).
EVERY_COMMAND = ("metrics is null", "stage_changed_at is a number", "removed is missing", "history.events is -1")


@pytest.mark.parametrize("edit", INDEX_EDITS, ids=list(INDEX_EDITS))
def test_a_hand_edited_index_is_an_integrity_error(project, edit):
    edit_index(project, INDEX_EDITS[edit])
    before = registry_digest(project)
    commands = [("show", "m"), ("update", "m@1.0.0", "-t", "a=b")]
    if FULL or edit in EVERY_COMMAND:
        commands += [("list",), ("history", "m"), ("search", "stage = 'development'"), ("diff", "m@1.0.0", "m@1.0.0"),
                     ("verify",), ("promote", "m@1.0.0"), ("register", "m", "a.bin"), ("rm", "m@1.0.0")]
    for args in commands:
        refused(project, *args, names="_index.json")
    assert registry_digest(project) == before


def _replace(path: Path, kind: str) -> None:
    import os

    path.unlink()
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)  # an open() that waited for a writer would hang the command


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_an_index_replaced_by_a_folder_or_fifo_is_an_integrity_error(project, kind):
    _replace(project / INDEX, kind)
    before = registry_digest(project)
    for args in (("show", "m"), ("list",), ("search", "stage = 'development'"), ("verify",),
                 ("update", "m@1.0.0", "-t", "a=b")):
        refused(project, *args, names="_index.json")
    assert registry_digest(project) == before


# --- the history ----------------------------------------------------------------------

def test_a_write_after_a_lengthened_event_refuses_and_keeps_the_history(project):
    path = project / HISTORY
    path.write_bytes(path.read_bytes().replace(b'"reason":""', b'"reason":"hand-written"'))
    before = registry_digest(project)
    refused(project, "verify", names="_history.jsonl")
    for args in (("update", "m@1.0.0", "-t", "a=b"), ("promote", "m@1.0.0"), ("register", "m", "a.bin")):
        refused(project, *args, names="_history.jsonl")
    assert registry_digest(project) == before


def test_a_write_after_a_smaller_history_bytes_refuses(project):
    """The index's byte count moved back by hand: the cut would fall inside the last event."""
    edit_index(project, _set_history("bytes", 400))
    before = registry_digest(project)
    refused(project, "verify", names="_history.jsonl")
    refused(project, "update", "m@1.0.0", "-t", "a=b", names="_history.jsonl")
    assert registry_digest(project) == before


def test_an_uncommitted_tail_is_still_dropped_by_the_next_write(project):
    """What a crash between the history append and the index replace leaves is not damage."""
    path = project / HISTORY
    committed = path.read_bytes()
    path.write_bytes(committed + b'{"time":"2026-01-01T00:00:00.000000Z","half an ev')
    cli(project, "update", "m@1.0.0", "-t", "a=b", expect=0)
    assert path.read_bytes().startswith(committed)
    assert b"half an ev" not in path.read_bytes()
    cli(project, "verify", expect=0)
    assert [e["action"] for e in cli(project, "history", "m", "--json", expect=0).json] == ["update", "register"]


def _events(project: Path) -> list[dict]:
    return [json.loads(line) for line in (project / HISTORY).read_bytes().splitlines()]


def _write_events(project: Path, events: list[dict], *, reseal: bool) -> None:
    """Write `events`; with `reseal`, re-chain them and point the index at them, as a
    forger would, so that only the event schema can tell."""
    from mreg.core.history import GENESIS, seal

    if reseal:
        prev, sealed = GENESIS, []
        for seq, event in enumerate(events, start=1):
            event = seal({k: v for k, v in event.items() if k not in ("seq", "prev", "hash")}, prev, seq)
            prev = event["hash"]
            sealed.append(event)
        events = sealed
    data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    (project / HISTORY).write_bytes(data)
    if reseal:
        edit_index(project, lambda model, record: model.__setitem__(
            "history", {"events": len(events), "bytes": len(data), "head": events[-1]["hash"]}))


EVENT_FIELDS = {"time": 5, "user": 5, "action": "erase", "name": 5, "version": 5, "from": 5, "to": ["x"],
                "reason": None, "details": [], "seq": "1", "prev": 5, "hash": 5}


@pytest.mark.parametrize("field", list(EVENT_FIELDS))
def test_an_event_field_of_the_wrong_type_is_an_integrity_error(project, field):
    event = _events(project)[0]
    event[field] = EVENT_FIELDS[field]
    # The hash and the chain fields cannot be resealed (sealing sets them).
    _write_events(project, [event], reseal=field not in ("seq", "prev", "hash"))
    before = registry_digest(project)
    refused(project, "history", "m", names="_history.jsonl")
    refused(project, "history", names="_history.jsonl")
    refused(project, "verify", names="_history.jsonl")
    refused(project, "update", "m@1.0.0", "-t", "a=b", names="_history.jsonl")
    assert registry_digest(project) == before


@pytest.mark.parametrize("line", [b"{}", b"[]", b"5", b"null", b'"text"', b"[" * 100_000 + b"]" * 100_000],
                         ids=["empty object", "array", "number", "null", "string", "deep array"])
def test_a_history_line_that_is_not_an_event_is_an_integrity_error(project, line):
    (project / HISTORY).write_bytes(line + b"\n")
    edit_index(project, lambda model, record: model["history"].__setitem__("bytes", len(line) + 1))
    before = registry_digest(project)
    refused(project, "history", "m", names="_history.jsonl")
    refused(project, "verify", names="_history.jsonl")
    refused(project, "update", "m@1.0.0", "-t", "a=b", names="_history.jsonl")
    assert registry_digest(project) == before


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_history_replaced_by_a_folder_or_fifo_is_an_integrity_error(project, kind):
    _replace(project / HISTORY, kind)
    before = registry_digest(project)
    for args in (("history", "m"), ("verify",), ("update", "m@1.0.0", "-t", "a=b")):
        refused(project, *args, names="_history.jsonl")
    assert registry_digest(project) == before


# --- config.toml ----------------------------------------------------------------------

CONFIG_EDITS = {
    "50,000-deep array": lambda text: text + "deep = " + "[" * 50_000 + "]" * 50_000 + "\n",
    "5,000-digit integer": lambda text: text.replace("format = 1", "format = " + "1" * 5000),
    "5,000-digit value elsewhere": lambda text: text + "big = " + "9" * 5000 + "\n",
    "retired is exclusive": lambda text: text.replace('retired = "deprecated"', 'retired = "production"'),
    "archived is exclusive": lambda text: text.replace('archived = "archived"', 'archived = "production"'),
    "initial is exclusive": lambda text: text.replace('initial = "development"', 'initial = "production"'),
    "archived is on the promotion path": lambda text: text.replace('archived = "archived"', 'archived = "testing"'),
    "retired is the release stage": lambda text: text.replace(
        'exclusive = [\n    "production",\n]', "exclusive = []").replace(
        'retired = "deprecated"', 'retired = "production"'),
}


@pytest.mark.parametrize("edit", CONFIG_EDITS, ids=list(CONFIG_EDITS))
def test_a_hand_edited_config_is_an_integrity_error(project, edit):
    path = project / CONFIG
    text = path.read_text()
    changed = CONFIG_EDITS[edit](text)
    assert changed != text
    path.write_text(changed)
    before = registry_digest(project)
    for args in (("list",), ("show", "m@development"), ("init", "."), ("verify",), ("promote", "m@1.0.0"),
                 ("register", "m", "a.bin")):
        refused(project, *args, names="config.toml")
    assert registry_digest(project) == before


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_init_over_a_config_that_is_no_file_is_an_integrity_error(project, kind):
    _replace(project / CONFIG, kind)
    refused(project, "init", ".", names="config.toml")


def test_retired_production_no_longer_leaves_two_production_versions(project):
    """What the refused config did: the second promotion superseded the first into production."""
    for _ in range(2):
        cli(project, "register", "m", "a.bin", "-q", expect=0)
    cli(project, "promote", "m@1.0.0", "--to", "production", "-q", expect=0)
    path = project / CONFIG
    path.write_text(path.read_text().replace('retired = "deprecated"', 'retired = "production"'))
    refused(project, "promote", "m@1.0.1", "--to", "production", names="lifecycle.retired")
    stages = {d["version"]: d["stage"] for d in json.loads((project / INDEX).read_text())["versions"].values()}
    assert sorted(stages.values()).count("production") == 1


# --- what verify checks beyond the schema ----------------------------------------------

def test_verify_reports_a_second_holder_of_an_exclusive_stage(project):
    cli(project, "register", "m", "a.bin", "-q", expect=0)
    edit_index(project, lambda model, record: [r.__setitem__("stage", "production")
                                               for r in model["versions"].values()])
    run = cli(project, "verify", expect=3)
    assert "_index.json" in run.out and "2 versions are in production" in run.out, run
    assert "m@1.0.0" in run.out and "m@1.0.1" in run.out, run


def test_verify_reports_a_stage_the_config_does_not_know(project):
    edit_index(project, _set("stage", "limbo"))
    run = cli(project, "verify", expect=3)
    assert "_index.json" in run.out and "'limbo' is not one of the stages" in run.out and "m@1.0.0" in run.out, run


def test_verify_reports_history_bytes_that_disagree_with_the_file(project):
    """The chain is sound and the head matches; only the byte count was changed."""
    edit_index(project, _set_history("bytes", 477))
    run = cli(project, "verify", expect=3)
    assert "_history.jsonl" in run.out and "history.bytes" in run.out, run


# --- manifests ------------------------------------------------------------------------

def _forge_manifest(project: Path, body: bytes) -> None:
    """Store `body` as an object under its true digest and point m@1.0.0, a directory, at it."""
    hexdigest = hashlib.sha256(body).hexdigest()
    obj = project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]
    obj.parent.mkdir(exist_ok=True)
    obj.write_bytes(body)
    edit_index(project, lambda model, record: record.update(digest="sha256:" + hexdigest, kind="directory"))


def _manifest(files) -> bytes:
    return json.dumps({"format": 1, "files": files}).encode()


GOOD_ENTRY = {"path": "a.bin", "digest": "sha256:" + hashlib.sha256(b"a\n").hexdigest(), "size": 2,
              "executable": False}
MANIFESTS = {
    "100,000-deep array": b"[" * 100_000 + b"]" * 100_000,
    "lone surrogate path": _manifest([dict(GOOD_ENTRY, path="a\ud800b")]),
    "size is text": _manifest([dict(GOOD_ENTRY, size="2")]),
    "executable is text": _manifest([dict(GOOD_ENTRY, executable="yes")]),
    "format from the future": json.dumps({"format": 99, "files": [GOOD_ENTRY]}).encode(),
}


@pytest.mark.parametrize("body", MANIFESTS, ids=list(MANIFESTS))
def test_a_malformed_manifest_is_an_integrity_error(project, tmp_path, body):
    _forge_manifest(project, MANIFESTS[body])
    before = registry_digest(project)
    refused(project, "get", "m@1.0.0", "-o", str(tmp_path / "out"), names="manifest")
    refused(project, "verify", names="manifest")
    assert not (tmp_path / "out").exists()
    assert registry_digest(project) == before


# --- a running writer's pins ------------------------------------------------------------

def test_gc_reads_pins_that_are_not_text(project):
    """A live intake's pins file holding bytes that are no digest protects nothing and breaks nothing."""
    import fcntl
    import os

    intake = project / ".mreg" / "intake" / "forged"
    intake.mkdir(parents=True)
    pins = intake / "pins"
    pins.write_bytes(b"\xff" * 64 + b"\n" + b"\x00" * 64 + b"\n")
    fd = os.open(pins, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held, as a running writer holds it
        cli(project, "gc", "--grace", "0s", expect=0)
    finally:
        os.close(fd)
    cli(project, "verify", expect=0)


# --- the cache: derived, so damage is rebuilt, never reported -------------------------------

def _age_index(project: Path) -> None:
    """Make the index look old enough for a cache entry derived from it to be trusted."""
    import os

    os.utime(project / INDEX, (1_600_000_000, 1_600_000_000))


def test_a_list_summary_of_the_wrong_types_is_rebuilt(project):
    _age_index(project)
    expected = cli(project, "list", "--json", expect=0).json
    path = project / ".mreg" / "cache" / "models.json"
    cache = json.loads(path.read_text())
    cache["models"]["m"]["summary"].update(versions=True, first_in_stage={"production": ["1.0.0"]})
    path.write_text(json.dumps(cache))
    assert cli(project, "list", "--json", expect=0).json == expected


def test_a_list_entry_without_its_summary_is_rebuilt(project):
    _age_index(project)
    expected = cli(project, "list", "--json", expect=0).json
    path = project / ".mreg" / "cache" / "models.json"
    cache = json.loads(path.read_text())
    del cache["models"]["m"]["summary"]
    path.write_text(json.dumps(cache))
    assert cli(project, "list", "--json", expect=0).json == expected


def test_a_search_document_of_the_wrong_types_is_rebuilt(project):
    _age_index(project)
    expected = cli(project, "search", "stage = 'development'", "--json", expect=0).json
    path = project / ".mreg" / "cache" / "search" / "m.json"
    data = path.read_bytes()
    header, rest = data.split(b"\n", 1)
    # The column still says development, so the filter picks the document; the document says otherwise.
    assert rest.count(b'"stage":"development"') == 1
    path.write_bytes(header + b"\n" + rest.replace(b'"stage":"development"', b'"stage":5'))
    assert cli(project, "search", "stage = 'development'", "--json", expect=0).json == expected
