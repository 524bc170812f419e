"""SPEC §7, hostile input: names, metadata, artifact directories, sources that
change during the copy, tampered manifests; plus property-based fuzzing of
names, metadata files and filters. Bad input gets exit 2 (or a refusal) and
changes nothing; what is accepted round-trips exactly; never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import threading
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rel import FULL, check_registry, cli, read_indexes, scale, sha, snapshot_outside, tally, tree_digest


def _registry_state(project: Path) -> tuple:
    mreg = project / ".mreg"
    files = sorted(str(p.relative_to(mreg)) for p in mreg.rglob("*") if p.name not in ("lock",))
    return files, read_indexes(project)


HOSTILE_NAMES = [
    "../escape", "a/../../b", "/abs/path", "/etc/passwd", ".mreg", "a/.mreg", ".", "..", "-rf", "--help", "-",
    "a\x00b", "a\nb", "a\rb", "a\x1bb", "tab\there", "a\u202eb", "\u202egnp.exe", "caf\u00e9",
    unicodedata.normalize("NFD", "caf\u00e9"), "A", "Model", "a//b", "a/", "/", "", " ", "a b", "x" * 4096,
    "a/" * 150 + "b", "\ud800", "_index.json", "a/_history.jsonl", "name@1.0.0", "n\\m", "~root", "*", "$(id)",
]


def test_hostile_names_are_refused_and_change_nothing(project, tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    before = _registry_state(project)
    outside = snapshot_outside(project)
    parent = sorted(os.listdir(project.parent))
    tried = 0
    for name in HOSTILE_NAMES:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            continue  # cannot even be passed as an argument
        if "\x00" in name:
            continue  # same: the kernel refuses it in argv
        # After `--`, so that "-rf" and "--help" arrive as names, not options.
        commands = [["register", "--", name, str(f)], ["show", "--", name], ["get", "-o", str(tmp_path / "o"), "--", name],
                    ["rm", "--all", "--yes", "--", name], ["history", "--", name]]
        for args in commands if FULL else commands[:2]:
            run = cli(project, *args)
            assert run.code in (1, 2), (name, run)
            if args[0] == "register":
                assert run.code == 2, (name, run)
                assert run.err.startswith("mreg: error:") and len(run.err.splitlines()) <= 2, run
            tried += 1
    assert _registry_state(project) == before
    assert snapshot_outside(project) == outside
    assert sorted(os.listdir(project.parent)) == parent
    tally("hostile: inputs tried", tried)


def _meta_file(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_hostile_metadata(project, tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    refused = {
        "10MB.json": b'{"notes": "' + b"x" * (10 << 20) + b'"}',
        "deep.json": b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "deep-objects.json": b'{"a": ' + b'{"b": ' * 100_000 + b"1" + b"}" * 100_000 + b"}",
        "bigint.json": b'{"metrics": {"n": ' + b"9" * 5000 + b"}}",
        "bigint-custom.json": b'{"x": -' + b"1" * 5000 + b"}",
        "nan.json": b'{"metrics": {"loss": NaN}}',
        "inf.json": b'{"x": [Infinity]}',
        "neginf.json": b'{"x": -Infinity}',
        "dup.json": b'{"a": 1, "a": 2}',
        "dup-nested.json": b'{"params": {"k": 1, "k": 1}}',
        "utf8.json": b'{"description": "\xff\xfe"}',
        "surrogate.json": b'{"description": "\\ud800"}',
        "not-object.json": b"[1, 2, 3]",
        "toml-bad.toml": b"a = \xff",
        "toml-deep.toml": b"a = " + b"[" * 5000 + b"]" * 5000,
        "toml-bigint.toml": b"x = " + b"9" * 5000,
        "key-long.json": json.dumps({"tags": {"k" * 300: "v"}}).encode(),
        "key-control.json": json.dumps({"tags": {"a\nb": "v"}}).encode(),
        "metric-text.json": b'{"metrics": {"acc": "high"}}',
        "big-toml.toml": b'notes = "' + b"y" * (3 << 20) + b'"',
    }
    before = _registry_state(project)
    for name, data in refused.items():
        path = _meta_file(tmp_path, name, data)
        run = cli(project, "register", "m", f, "--metadata-file", path)
        assert run.code == 2, (name, run)
        assert run.err.startswith("mreg: error:") and len(run.err.strip().splitlines()) <= 2, (name, run.err[:500])
        tally("hostile: inputs tried", 1)
    for opt in (["-m", "acc=nan"], ["-m", "acc=inf"], ["-m", "n=" + "9" * 5000], ["-m", "=1"], ["-t", "\x1b=1"],
                ["-p", "k" * 300 + "=1"]):
        run = cli(project, "register", "m", f, *opt)
        assert run.code == 2, (opt[:1], run)
        tally("hostile: inputs tried", 1)
    assert _registry_state(project) == before
    # Accepted metadata round-trips exactly.
    accepted = {
        "metrics": {"acc": 0.1 + 0.2, "tiny": 5e-324, "big": 1.7976931348623157e308, "neg": -0.0, "n": 10**63},
        "params": {"lr": 3e-4, "layers": [1, [2, [3]]], "unicode": "\u202e caf\u00e9 \U0001f600", "none": None},
        "tags": {"team": "ML Team", "rtl": "\u202eabc", "nfd": unicodedata.normalize("NFD", "caf\u00e9")},
        "description": "line1\nline2\ttab \x00 nul",
        "custom": {"deep": json.loads("[" * 20 + "]" * 20), "bool": True, "empty": {}},
    }
    path = _meta_file(tmp_path, "ok.json", json.dumps(accepted).encode())
    doc = cli(project, "register", "m", f, "--metadata-file", path, "--json", expect=0).json
    shown = cli(project, "show", f"m@{doc['version']}", "--json", expect=0).json
    for key in ("metrics", "params", "tags", "description"):
        assert json.dumps(shown[key], sort_keys=True) == json.dumps(accepted[key], sort_keys=True), key
    assert shown["metadata"]["custom"] == accepted["custom"]
    assert str(shown["metrics"]["neg"]) == "-0.0"


# --- artifact directories ------------------------------------------------------------------

def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "weights.bin").write_bytes(b"weights")
    (tree / "sub" / "config.json").write_bytes(b"{}")
    return tree


HOSTILE_TREES = {
    "absolute link outside": lambda t, o: os.symlink(o / "secret", t / "abs"),
    "relative link escaping": lambda t, o: os.symlink("../../outside/secret", t / "sub" / "esc"),
    "link loop to root": lambda t, o: os.symlink(".", t / "sub" / "loop"),
    "link loop to parent": lambda t, o: os.symlink("..", t / "sub" / "up"),
    "self link": lambda t, o: os.symlink("self", t / "self"),
    "dangling link": lambda t, o: os.symlink("nowhere", t / "dangling"),
    "fifo": lambda t, o: os.mkfifo(t / "fifo"),
    "socket": lambda t, o: socket.socket(socket.AF_UNIX).bind(str(t / "sock")),
    "link to /dev/zero": lambda t, o: os.symlink("/dev/zero", t / "zero"),
}


@pytest.mark.parametrize("case", list(HOSTILE_TREES))
def test_hostile_artifact_directories_are_refused(project, tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"top secret")
    tree = _tree(tmp_path)
    HOSTILE_TREES[case](tree, outside)
    before = _registry_state(project)
    run = cli(project, "register", "m", tree, expect=2)
    assert run.err.startswith("mreg: error:"), run
    assert len(run.err.strip().splitlines()) <= 2
    assert _registry_state(project) == before
    tally("hostile: inputs tried", 1)
    if case in ("absolute link outside", "relative link escaping"):
        doc = cli(project, "register", "m", tree, "--follow-symlinks", "--json", expect=0).json
        got = tmp_path / "got"
        cli(project, "get", f"m@{doc['version']}", "-o", got, expect=0)
        linked = got / ("abs" if case.startswith("absolute") else "sub/esc")
        assert not linked.is_symlink() and linked.read_bytes() == b"top secret"


def test_links_inside_and_hard_links_are_stored_as_bytes(project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shared.bin").write_bytes(b"hard linked bytes")
    tree = _tree(tmp_path)
    os.symlink("weights.bin", tree / "alias.bin")
    os.symlink("../weights.bin", tree / "sub" / "up-alias.bin")
    os.link(outside / "shared.bin", tree / "hard.bin")
    doc = cli(project, "register", "m", tree, "--json", expect=0).json
    got = tmp_path / "got"
    cli(project, "get", f"m@{doc['version']}", "-o", got, expect=0)
    assert tree_digest(got) == {"weights.bin": sha(b"weights"), "sub/config.json": sha(b"{}"),
                                "alias.bin": sha(b"weights"), "sub/up-alias.bin": sha(b"weights"),
                                "hard.bin": sha(b"hard linked bytes")}
    # The store holds copies: changing the user's hard-linked file changes nothing stored.
    os.chmod(outside / "shared.bin", 0o644)
    (outside / "shared.bin").write_bytes(b"edited later")
    check_registry(project)
    for p in (project / ".mreg" / "objects").rglob("*"):
        if p.is_file():
            assert os.stat(p).st_nlink == 1


def test_source_appended_to_during_copy(project, tmp_path):
    big = tmp_path / "big.bin"
    base = os.urandom(1 << 20) * scale(32, 96)
    big.write_bytes(base)
    stop = threading.Event()

    def grow():
        with open(big, "ab") as handle:
            while not stop.is_set():
                handle.write(os.urandom(1 << 16))
                handle.flush()
                time.sleep(0.001)

    thread = threading.Thread(target=grow)
    thread.start()
    try:
        doc = cli(project, "register", "m", big, "--json", expect=0).json
    finally:
        stop.set()
        thread.join()
    final = big.read_bytes()
    got = tmp_path / "got.bin"
    cli(project, "get", "m@1.0.0", "-o", got, expect=0)
    data = got.read_bytes()
    # The stored bytes are exactly the hashed bytes: a consistent prefix of the file.
    assert doc["digest"] == "sha256:" + sha(data) and doc["size"] == len(data)
    assert final.startswith(data) and len(data) >= len(base)
    check_registry(project)
    tally("hostile: inputs tried", 1)


def test_file_swapped_for_a_link_during_copy(project, tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(b"must never be stored")
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(scale(400, 2000)):
        (tree / f"f{i:05d}").write_bytes(os.urandom(2048))
    victims = [tree / f"f{i:05d}" for i in range(0, scale(400, 2000), 7)]
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            for v in victims:
                tmp = tmp_path / "swap.tmp"  # outside the tree: the scan must only ever see the victims
                with contextlib.suppress(OSError):
                    os.symlink(outside, tmp)
                    os.replace(tmp, v)
            time.sleep(0.001)

    codes = []
    for attempt in range(scale(3, 10)):
        for v in victims:
            with contextlib.suppress(OSError):
                v.unlink()
            v.write_bytes(os.urandom(2048))
        thread = threading.Thread(target=swap)
        started = time.monotonic()
        thread.start()
        try:
            run = cli(project, "register", "m", tree, "--json")
        finally:
            stop.set()
            thread.join()
            stop.clear()
        assert run.code in (0, 2), run
        codes.append(run.code)
        if run.code == 0:
            got = tmp_path / f"got{attempt}"
            cli(project, "get", f"m@{run.json['version']}", "-o", got, expect=0)
            for p in got.rglob("*"):
                assert p.read_bytes() != b"must never be stored", p
        tally("hostile: inputs tried", 1)
    check_registry(project)


def test_tampered_manifests_never_write_outside(project, tmp_path):
    import hashlib

    tree = _tree(tmp_path)
    doc = cli(project, "register", "m", tree, "--json", expect=0).json
    index_path = project / ".mreg" / "models" / "m" / "_index.json"
    original_index = index_path.read_bytes()
    real = json.loads((project / ".mreg" / "objects" / doc["digest"][7:9] / doc["digest"][9:]).read_bytes())
    good = real["files"][0]
    bad_paths = ["../evil", "../../evil", "/tmp/evil-abs", "a/../../evil", "sub/../../evil", ".", "..", "",
                 "a//b", "a\\..\\evil", "a\x00b", None, 5]
    cases = [[dict(good, path=p)] for p in bad_paths]
    cases.append([good, dict(good)])  # duplicate
    cases.append([dict(good, path="a"), dict(good, path="a/b")])  # a file used as a folder
    cases.append([dict(good, digest="sha256:../../etc/passwd")])
    cases.append("not a manifest")
    (tmp_path / "dest").mkdir()
    out_before = snapshot_outside(project)
    parent_before = sorted(os.listdir(tmp_path))
    for i, files in enumerate(cases):
        body = json.dumps({"format": 1, "files": files} if not isinstance(files, str) else files).encode()
        hexdigest = hashlib.sha256(body).hexdigest()
        obj = project / ".mreg" / "objects" / hexdigest[:2] / hexdigest[2:]
        obj.parent.mkdir(exist_ok=True)
        obj.write_bytes(body)
        index = json.loads(original_index)
        index["versions"]["1.0.0"]["digest"] = "sha256:" + hexdigest
        index_path.write_text(json.dumps(index))
        dest = tmp_path / "dest" / "model"
        dest.parent.mkdir(exist_ok=True)
        run = cli(project, "get", "m@1.0.0", "-o", dest, expect=3)
        assert run.err.startswith("mreg: error:"), run
        assert not dest.exists() and os.listdir(dest.parent) == []
        run = cli(project, "verify", expect=3)
        obj.unlink()
        tally("hostile: inputs tried", 1)
    assert not Path("/tmp/evil-abs").exists()
    assert snapshot_outside(project) == out_before
    assert sorted(os.listdir(tmp_path)) == parent_before
    index_path.write_bytes(original_index)
    check_registry(project)


# --- property-based fuzzing, in process for speed ----------------------------------------------

def _main(args: list[str]) -> tuple[int, str]:
    from mreg.cli.main import main

    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    text = err.getvalue()
    assert "Traceback" not in text and "internal error" not in text, (args, text)
    return code, out.getvalue()


FUZZ = settings(max_examples=scale(150, 1500), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**70), max_value=10**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)


@FUZZ
@given(name=st.text(max_size=80) | st.from_regex(r"[a-z0-9][a-z0-9._/-]{0,40}", fullmatch=True))
def test_fuzz_names(project, tmp_path, name):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    if "\x00" in name:
        return
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return
    code, _ = _main(["register", name, str(f), "-q", "--repo", str(project)])
    assert code in (0, 1, 2)
    code, _ = _main(["show", name, "--repo", str(project)])
    assert code in (0, 1, 2)
    tally("hostile: inputs tried (fuzzed)", 1)


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(["metrics", "params", "tags", "datasets", "description", "framework",
                                            "custom", "input_shape"]) | st.text(max_size=10), json_values, max_size=5))
def test_fuzz_metadata_files(project, tmp_path, doc):
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    code, out = _main(["register", "fuzz", str(f), "--metadata-file", str(path), "--json", "--repo", str(project)])
    assert code in (0, 2), code
    if code == 0:
        version = json.loads(out)["version"]
        _, shown = _main(["show", f"fuzz@{version}", "--json", "--repo", str(project)])
        shown = json.loads(shown)
        for key, value in doc.items():
            if key in ("metrics", "params", "tags", "description", "framework"):
                assert shown[key] == value
            elif key not in ("datasets",):
                assert shown["metadata"][key] == value
    tally("hostile: inputs tried (fuzzed)", 1)


FIELDS = ["name", "version", "stage", "created_at", "size", "metrics.acc", "params.lr", "tags.team", "description",
          "nosuch", "metrics.", ""]
atoms = st.builds(lambda f, op, v: f"{f} {op} {v}", st.sampled_from(FIELDS),
                  st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "like", "ilike", "in", "=="]),
                  st.sampled_from(["1", "0.5", "'a%'", '"x"', "(1, 2)", "('a')", "1.0.0", "'2024-01-01'", "-",
                                   "1e999", "nan", "'", "()", "9" * 500]))
filters = st.recursive(atoms, lambda c: st.builds(lambda a, op, b: f"{a} {op} {b}", c, st.sampled_from(
    ["and", "or", "and not"]), c) | st.builds(lambda a: f"({a})", c) | st.builds(lambda a: f"not {a}", c),
    max_leaves=6) | st.text(max_size=60)


@FUZZ
@given(text=filters)
def test_fuzz_search_filters(project, tmp_path, text):
    if "\x00" in text:
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    if not (project / ".mreg" / "models" / "s").exists():
        f = tmp_path / "w.bin"
        f.write_bytes(b"w")
        for i in range(3):
            _main(["register", "s", str(f), "-m", f"acc=0.{i}", "-p", "lr=0.1", "-t", "team=ML Team",
                   "--description", "d", "--repo", str(project)])
    code, _ = _main(["search", text, "--json", "--repo", str(project)])
    assert code in (0, 2), (text, code)
    tally("hostile: inputs tried (fuzzed)", 1)
