"""Hostile registries: one file under `.mreg/` mutated, then every command run on the result.

Registries get copied between machines, so every byte under `.mreg/` is
untrusted input. For each mutation and each command line this checks: exit
0, 1, 2, 3 or 5; never a traceback or "internal error"; a failure is exactly
one `mreg: error:` line (hint and warning lines allowed); no hang; `--json`
prints one JSON document (no NaN); nothing outside the registry and the
requested destination changes, and `get` creates no link.

How it stays cheap. A real registry (file and directory artifacts, every
stage, every kind of event, a removed version, gc runs, a populated cache) is
built once per session. Each hypothesis example copies it, applies one
mutation (JSON-aware, TOML-aware, bytes, links, FIFOs, folders, deletions,
forged intake folders; history and manifests optionally re-sealed so that a
forgery is self-consistent) and runs about twenty command lines. Each command
line runs the real entry point, `mreg.cli.main:main`, in a forked child
(stdin /dev/null, stdout and stderr in files, its own session, a memory
limit): about 15 ms where `python -m mreg` costs about 100 ms.
`test_fork_runner_matches_a_subprocess` checks that the two give the same
exit, stdout and stderr.

A failure prints the file, the mutation, the command line, what went wrong and
a `MREG_FUZZ_REPLAY=…` line that replays exactly that example. CI runs a fixed
(derandomized) set of examples; `MREG_FULL=1` runs thousands of random ones;
`MREG_FUZZ_KEEP_GOING=1` runs every example and ends with one line per
distinct failure class instead of stopping at the first.
"""

from __future__ import annotations

import faulthandler
import hashlib
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rel import FULL, mreg_argv, scale, tally

EXAMPLES = int(os.environ.get("MREG_FUZZ_EXAMPLES") or scale(250, 3000))
TIMEOUT = float(os.environ.get("MREG_FUZZ_TIMEOUT", "10"))
KEEP_GOING = os.environ.get("MREG_FUZZ_KEEP_GOING") == "1"
ALLOWED_EXITS = (0, 1, 2, 3, 5)
MEMORY_LIMIT = 1536 << 20  # a read of a link to a zero device must end in an error, not eat the machine
ENV = {"MREG_USER": "fuzz@example.com", "NO_COLOR": "1", "MREG_NO_PROGRESS": "1", "COLUMNS": "120",
       "MREG_REPO": None, "MREG_DEBUG": None, "_MREG_TYPER_ONLY": None, "_MREG_COMPLETE": None}
ABSOLUTE_PROBE = "/abs/path"  # a literal absolute path among the values; nothing may ever create it


# --- the fork runner ---------------------------------------------------------------------------

@dataclass
class Ran:
    argv: list[str]
    code: int
    out: str
    err: str
    hung: bool = False
    seconds: float = 0.0


def _preload() -> None:
    # Imported once here, so that each forked child starts with them loaded.
    import gc
    import tomllib  # noqa: F401

    import typer._click.decorators  # noqa: F401

    import mreg.cli.app  # noqa: F401
    import mreg.cli.bodies.diff  # noqa: F401
    import mreg.cli.bodies.inspect  # noqa: F401
    import mreg.cli.bodies.registering  # noqa: F401
    import mreg.cli.commands.diff  # noqa: F401
    import mreg.cli.commands.inspect  # noqa: F401
    import mreg.cli.commands.lifecycle  # noqa: F401
    import mreg.cli.commands.maintenance  # noqa: F401
    import mreg.cli.commands.registering  # noqa: F401
    import mreg.cli.complete  # noqa: F401
    import mreg.cli.options  # noqa: F401
    import mreg.cli.fast  # noqa: F401
    import mreg.cli.main  # noqa: F401
    import mreg.cli.output  # noqa: F401
    import mreg.core.ops.diff  # noqa: F401
    import mreg.core.ops.gc  # noqa: F401
    import mreg.core.ops.get  # noqa: F401
    import mreg.core.ops.lifecycle  # noqa: F401
    import mreg.core.ops.queries  # noqa: F401
    import mreg.core.ops.register  # noqa: F401
    import mreg.core.ops.remove  # noqa: F401
    import mreg.core.ops.update  # noqa: F401
    import mreg.core.ops.verify  # noqa: F401
    import mreg.core.query  # noqa: F401

    # Out of the collector's sight: a child's collections then leave the parent's pages shared.
    gc.freeze()


def _child(cwd: str, args: list[str], env: dict, out_fd: int, err_fd: int) -> None:
    """In the forked child: become `mreg ARGS` run from a shell in `cwd`, then exit. Never returns."""
    code = 70
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        # Streams as a fresh interpreter has them (pytest replaced sys.std*).
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=sys.__stdin__.encoding,
                                     errors=sys.__stdin__.errors)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=sys.__stdout__.encoding,
                                      errors=sys.__stdout__.errors)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=sys.__stderr__.encoding,
                                      errors=sys.__stderr__.errors, line_buffering=True)
        faulthandler.enable(file=sys.stderr, all_threads=True)  # SIGABRT on a hang shows where
        sys.argv = ["mreg", *args]
        from mreg.cli.main import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            # As the interpreter does at exit: an int is the status, None is 0, anything else is printed.
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
    except BaseException:  # noqa: BLE001 - what escapes main is what a real process prints
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001
            pass
        try:
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code & 0xFF)


def run_forked(cwd: Path, args: list[str], timeout: float = TIMEOUT, env: dict | None = None) -> Ran:
    """Run `mreg ARGS` in `cwd` in a forked child of this process; a hang is killed after `timeout`."""
    full_env = dict(os.environ)
    for key, value in {**ENV, **(env or {})}.items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    args = [str(a) for a in args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(str(cwd), args, full_env, out.fileno(), err.fileno())
        pidfd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
            hung = not ready
            if hung:
                for sig, wait in ((signal.SIGABRT, 2.0), (signal.SIGKILL, None)):
                    try:
                        os.killpg(pid, sig)
                    except ProcessLookupError:
                        os.kill(pid, sig)
                    if wait and select.select([pidfd], [], [], wait)[0]:
                        break
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(pidfd)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Ran(["mreg", *args], os.waitstatus_to_exitcode(status),
                   out.read().decode("utf-8", "backslashreplace"), err.read().decode("utf-8", "backslashreplace"),
                   hung, seconds)


# --- the registry every example starts from ------------------------------------------------------

@dataclass
class Template:
    root: Path  # holds project/ (with .mreg/) and the sentinel folders
    versions: dict[str, list[str]]  # every version each model ever had, the removed ones included
    targets: dict[str, list[str]]  # category -> paths relative to .mreg/
    docs: dict[str, object] = field(default_factory=dict)  # relpath -> parsed content, for choosing paths


def _ok(cwd: Path, *args) -> Ran:
    ran = run_forked(cwd, list(args), timeout=120)
    assert ran.code == 0, f"building the template: {ran}"
    return ran


def _sentinels(root: Path) -> None:
    """Files and folders around the registry that no command may touch."""
    project = root / "project"
    (project / "notes.txt").write_text("the user's own file\n")
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("x,y\n1,2\n")
    outside = root / "outside"
    (outside / "folder" / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_text("top secret\n")
    (outside / "folder" / "a.txt").write_text("outside a\n")
    (outside / "folder" / "sub" / "b.bin").write_bytes(os.urandom(64))
    (root / "dest").mkdir()


def _zero_device(outside: Path) -> None:
    """A zero device of our own (made in each copy: copying one would read forever), so that a
    command that writes or chmods through a link to it changes this node, never the system's."""
    try:
        os.mknod(outside / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    except OSError:
        os.symlink("/dev/zero", outside / "zero")


def _build_template(root: Path) -> Template:
    project = root / "project"
    project.mkdir(parents=True)
    _sentinels(root)
    _ok(project, "init", ".")
    src = root / "src"
    (src / "tree" / "sub").mkdir(parents=True)
    (src / "tree" / "weights.bin").write_bytes(b"tree weights")
    (src / "tree" / "sub" / "config.json").write_bytes(b'{"layers": 2}')
    (src / "tree" / "run.sh").write_bytes(b"#!/bin/sh\necho run\n")
    os.chmod(src / "tree" / "run.sh", 0o755)
    (src / "tree2").mkdir()
    (src / "tree2" / "a.bin").write_bytes(b"a" * 100)
    (src / "tree2" / "b.bin").write_bytes(b"b" * 50)
    files = {}
    for i in range(6):
        files[i] = src / f"w{i}.bin"
        files[i].write_bytes(f"weights {i}\n".encode() * (i + 1))
    meta = src / "meta.json"
    meta.write_text(json.dumps({"metrics": {"acc": 0.93, "f1": 0.9}, "params": {"lr": 0.01, "layers": [1, 2]},
                                "tags": {"team": "ml", "owner": "ana"}, "custom": {"notes": ["a", {"b": 1}]},
                                "input_shape": [1, 3, 224, 224]}))
    data = project / "data" / "train.csv"
    _ok(project, "register", "m", files[0], "-m", "acc=0.91", "-p", "lr=0.001", "-t", "team=ml",
        "--dataset", f"train={data}", "--description", "first", "--framework", "pytorch", "-q")
    _ok(project, "register", "m", files[1], "--metadata-file", meta, "-q")
    _ok(project, "register", "m", src / "tree", "-m", "acc=0.5", "-q")
    _ok(project, "register", "m", files[2], "--version", "2.0.0", "-q")
    _ok(project, "register", "m", files[3], "-q")
    _ok(project, "register", "team/n", src / "tree2", "-t", "team=vision", "-q")
    _ok(project, "register", "team/n", files[4], "--dataset", "imgs=s3://bucket/images", "-q")
    _ok(project, "register", "d", src / "tree", "--stage", "staging", "-q")
    _ok(project, "register", "old", files[5], "-q")
    _ok(project, "transition", "old@1.0.0", "archived", "-r", "unused", "-q")
    _ok(project, "gc", "--archived-older-than", "0s", "--grace", "0s", "-q")  # a gc event, then an empty model
    _ok(project, "promote", "m@1.0.0", "--to", "production", "-r", "first release", "-q")
    _ok(project, "promote", "m@1.0.1", "--to", "production", "-r", "better", "-q")  # supersedes 1.0.0
    _ok(project, "rollback", "m", "-r", "regression", "-q")  # 1.0.0 back, 1.0.1 deprecated
    _ok(project, "transition", "m@1.0.1", "archived", "-r", "retired", "-q")
    _ok(project, "update", "m@2.0.0", "-m", "acc=0.95", "-t", "note=tuned", "-q")
    _ok(project, "transition", "m@2.0.0", "testing", "-r", "try it", "-q")
    _ok(project, "promote", "team/n@1.0.0", "--to", "production", "-r", "ship", "-q")
    _ok(project, "rm", "m@2.0.1", "-r", "bad build", "-q")
    _ok(project, "register", "m", files[3], "-q")  # 2.0.2: removed numbers are never reused
    _ok(project, "gc", "--grace", "0s", "-q")
    _ok(project, "verify", "-q")
    mreg_dir = project / ".mreg"
    # Index files an hour old, so that cache entries derived in a copy are trusted (not "racily clean").
    old = time.time() - 3600
    for path in mreg_dir.rglob("_index.json"):
        os.utime(path, (old, old))
    _refresh_cache(project)
    versions = {}
    for path in (mreg_dir / "models").rglob("_index.json"):
        doc = json.loads(path.read_bytes())
        versions[doc["name"]] = sorted(set(doc["versions"]) | set(doc.get("removed", [])))
    return Template(root, versions, _targets(mreg_dir), {})


def _refresh_cache(project: Path) -> None:
    _ok(project, "list", "-q")
    _ok(project, "search", "name like '%'", "-q")


# cache/sources.json is left out: it is read only for sources of 64 MB and more, too big to copy per example.
CATEGORIES = ["config", "index", "history", "manifest", "object", "cache-summary", "cache-search", "lock",
              "lock-info", "intake", "directory"]


def _targets(mreg_dir: Path) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for path in sorted(mreg_dir.rglob("*")):
        rel = path.relative_to(mreg_dir).as_posix()
        if path.is_dir():
            if rel.count("/") <= 2 and not rel.startswith("intake/"):
                targets["directory"].append(rel)
            continue
        if rel == "config.toml":
            targets["config"].append(rel)
        elif rel.endswith("/_index.json"):
            targets["index"].append(rel)
        elif rel.endswith("/_history.jsonl"):
            targets["history"].append(rel)
        elif rel.startswith("objects/"):
            try:
                manifest = isinstance(json.loads(path.read_bytes()).get("files"), list)
            except (ValueError, AttributeError):
                manifest = False
            targets["manifest" if manifest else "object"].append(rel)
        elif rel == "cache/models.json":
            targets["cache-summary"].append(rel)
        elif rel.startswith("cache/search/"):
            targets["cache-search"].append(rel)
        elif rel == "lock":
            targets["lock"].append(rel)
    targets["lock-info"] = ["lock.json"]
    targets["intake"] = ["intake"]
    for category, found in targets.items():
        assert found, f"the template registry has no {category} to mutate"
    return targets


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Template:
    _preload()
    return _build_template(tmp_path_factory.mktemp("fuzz-template"))


# --- values a hostile file may hold ------------------------------------------------------------------
# Each is JSON text; "{outside}" becomes the sentinel folder that links point to.
JSON_VALUES = {
    "null": "null", "true": "true", "false": "false", "zero": "0", "negative": "-1", "float": "0.5",
    "huge-int": str(2**64 + 1), "negative-huge-int": str(-(2**63) - 1), "5000-digit-int": "9" * 5000,
    "negative-5000-digit-int": "-" + "1" * 5000, "nan": "NaN", "inf": "Infinity", "-inf": "-Infinity",
    "1e400": "1e400", "empty-string": '""', "string": '"fuzz"', "empty-list": "[]", "empty-dict": "{}",
    "list": '[1, "a", null]', "dict": '{"a": {"b": [1]}}', "deep-array": "[" * 100_000 + "]" * 100_000,
    "deep-object": '{"a":' * 100_000 + "1" + "}" * 100_000, "long-string": '"' + "x" * 100_000 + '"',
    "long-list": "[" + ",".join(["0"] * 100_000) + "]", "lone-surrogate": '"\\ud800"',
    "surrogate-inside": '"a\\udc00b"', "control-chars": '"\\u0000\\u001b[31mred\\r\\n\\t\\u007f"',
    "bidi": '"\\u202egnp.exe"', "dotdot-path": '"../../x"', "escaping-path": '"../../../../outside/planted"',
    "absolute-outside": '"{outside}/planted"', "absolute-path": json.dumps(ABSOLUTE_PROBE), "dot": '"."',
    "dotdot": '".."', "backslash-path": '"..\\\\..\\\\x"', "option-like": '"-rf"',
    "unknown-stage": '"nosuch"', "production": '"production"', "archived": '"archived"',
    "other-version": '"1.0.0"', "bad-version": '"v1..2"', "huge-version": '"99999999999999999999999.0.0"',
    "missing-digest": '"sha256:' + "0" * 64 + '"', "traversal-digest": '"sha256:../../../../outside/secret.txt"',
    "short-digest": '"sha256:ab"', "upper-digest": '"SHA256:' + "A" * 64 + '"', "md5-digest": '"md5:abc"',
    "future-time": '"9999-12-31T23:59:59Z"', "ancient-time": '"0001-01-01T00:00:00Z"', "bad-time": '"yesterday"',
    "overflow-time": '"99999-01-01T00:00:00Z"', "other-name": '"team/n"', "hostile-name": '"../m"',
    "kind-other": '"directory"', "kind-bad": '"symlink"',
}
KEY_VALUES = {k: v for k, v in JSON_VALUES.items() if v.startswith('"')}  # what a renamed key becomes

# The same for config.toml, as TOML text.
TOML_VALUES = {
    "string": '"x"', "empty-string": '""', "int": "1", "negative": "-1", "5000-digit-int": "9" * 5000,
    "huge-int": str(2**64 + 1), "float": "0.5", "nan": "nan", "inf": "inf", "1e400": "1e400", "bool": "true",
    "empty-list": "[]", "int-list": "[1, 2]", "mixed-list": '[1, "a"]', "inline-table": "{ a = 1 }",
    "datetime": "1979-05-27T07:32:00Z", "deep-array": "[" * 5000 + "]" * 5000, "long-string": '"' + "x" * 100_000 + '"',
    "unknown-stage": '"nosuch"', "unknown-stages": '["nosuch"]', "archived": '"archived"',
    "production": '"production"', "deprecated": '"deprecated"', "development": '"development"',
    "only-archived": '["archived"]', "only-development": '["development"]', "only-production": '["production"]',
    "all-stages": '["development", "testing", "staging", "production", "deprecated", "archived"]',
    "stages-without-retired": '["development", "testing", "staging", "production"]',
    "duplicate-stages": '["development", "development"]', "empty-stage-name": '[""]',
    "path-stage": '"../../x"', "path-stages": '["../../x"]', "control-stage": '"a\\u001b[31mb"',
    "newline-stage": '"a\\nb"', "latest-stage": '"latest"',
    "many-stages": "[" + ", ".join(f'"s{i}"' for i in range(5000)) + "]",
    "negative-duration": '"-5s"', "zero-duration": '"0s"', "huge-duration": '"99999999999999999999w"',
    "bad-duration": '"soon"', "float-duration": '"1e400s"',
    "reversed-promotion": '["production", "staging", "testing", "development"]',
    "looping-promotion": '["development", "testing", "development"]', "format-2": "2",
}
TOML_KEYS = ["format", "lifecycle", "lifecycle.stages", "lifecycle.initial", "lifecycle.promotion",
             "lifecycle.exclusive", "lifecycle.retired", "lifecycle.archived", "lifecycle.transitions",
             *[f"lifecycle.transitions.{s}" for s in ("development", "testing", "staging", "production",
                                                      "deprecated", "archived", "nosuch")],
             "gc", "gc.grace", "gc.archived_older_than", "lifecycle.unknown", "unknown"]

json_literals = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)
# A family first, then a member: each kind of hostility gets its share of the examples.
FAMILIES = {
    "type": ["null", "true", "false", "zero", "negative", "float", "empty-string", "string", "empty-list",
             "empty-dict", "list", "dict"],
    "number": ["huge-int", "negative-huge-int", "5000-digit-int", "negative-5000-digit-int", "nan", "inf", "-inf",
               "1e400"],
    "size": ["deep-array", "deep-object", "long-string", "long-list"],
    "text": ["lone-surrogate", "surrogate-inside", "control-chars", "bidi", "option-like"],
    "path": ["dotdot-path", "escaping-path", "absolute-outside", "absolute-path", "dot", "dotdot", "backslash-path",
             "hostile-name"],
    "meaning": ["unknown-stage", "production", "archived", "other-version", "bad-version", "huge-version",
                "missing-digest", "traversal-digest", "short-digest", "upper-digest", "md5-digest", "future-time",
                "ancient-time", "bad-time", "overflow-time", "other-name", "kind-other", "kind-bad"],
}
assert sorted(sum(FAMILIES.values(), [])) == sorted(JSON_VALUES)
named_values = st.sampled_from(sorted(FAMILIES)).flatmap(
    lambda family: st.sampled_from(FAMILIES[family]).map(lambda n: {"named": n}))
json_values = st.one_of(named_values, named_values, named_values, json_literals.map(lambda v: {"literal": v}))
key_values = st.sampled_from(sorted(KEY_VALUES)).map(lambda n: {"named": n}) | st.text(max_size=12).map(
    lambda v: {"literal": v})
SYMLINK_TARGETS = ["outside-file", "outside-dir", "zero", "dangling", "self", "up"]


# --- mutations: strategies ---------------------------------------------------------------------------

def _json_paths(doc: object, limit: int = 300) -> list[list]:
    out: list[list] = []

    def walk(node, path):
        if len(out) >= limit:
            return
        out.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, [*path, i])

    walk(doc, [])
    return out


def _json_edit(data, paths: list[list]):
    """A strategy for one edit of a JSON document whose node paths are `paths`."""
    path = data.draw(st.sampled_from(paths), label="path")
    ops = ["set", "set", "delete", "rename"] if path else ["set"]
    op = data.draw(st.sampled_from(ops), label="op")
    if op == "rename" and not isinstance(path[-1], str):
        op = "set"
    spec = {"path": path, "op": op}
    if op == "set":
        spec["value"] = data.draw(json_values, label="value")
    elif op == "rename":
        spec["value"] = data.draw(key_values, label="key")
    return spec


def _bytes_edit(data, size: int) -> dict:
    op = data.draw(st.sampled_from(["truncate", "append", "flip", "invalid-utf8", "empty", "replace", "nul"]),
                   label="bytes op")
    spec = {"kind": "bytes", "op": op}
    if op in ("truncate", "flip", "invalid-utf8", "nul"):
        spec["at"] = data.draw(st.integers(0, max(size - 1, 0)), label="at")
    if op in ("append", "replace"):
        spec["data"] = data.draw(st.binary(max_size=64), label="bytes").hex()
    if op == "flip":
        spec["xor"] = data.draw(st.integers(1, 255), label="xor")
    return spec


def _fs_edit(data, is_dir: bool) -> dict:
    ops = ["delete", "symlink", "symlink", "fifo", "file" if is_dir else "directory"]
    op = data.draw(st.sampled_from(ops), label="fs op")
    spec = {"kind": "fs", "op": op}
    if op == "symlink":
        spec["to"] = data.draw(st.sampled_from(SYMLINK_TARGETS), label="link to")
    return spec


def _doc(template: Template, rel: str):
    if rel not in template.docs:
        raw = (template.root / "project" / ".mreg" / rel).read_bytes()
        if rel.endswith(".jsonl"):
            template.docs[rel] = [json.loads(line) for line in raw.splitlines()]
        elif rel.startswith("cache/search/"):
            template.docs[rel] = _split_search(raw)
        else:
            template.docs[rel] = json.loads(raw)
    return template.docs[rel]


def draw_mutation(data, template: Template, category: str, target: str) -> dict:
    path = template.root / "project" / ".mreg" / target
    size = path.stat().st_size if path.is_file() else 0
    if category == "directory":
        return _fs_edit(data, is_dir=True)
    if category == "intake":
        return _intake_edit(data)
    general = data.draw(st.sampled_from(["aware", "aware", "aware", "bytes", "fs"]), label="family")
    if category in ("object", "lock"):
        general = data.draw(st.sampled_from(["bytes", "fs"]), label="family")
    if general == "bytes":
        return _bytes_edit(data, size if category != "lock-info" else 80)
    if general == "fs":
        return _fs_edit(data, is_dir=False)
    if category == "config":
        spec = {"kind": "toml", "key": data.draw(st.sampled_from(TOML_KEYS), label="key")}
        spec["op"] = data.draw(st.sampled_from(["set", "set", "set", "delete"]), label="op")
        if spec["op"] == "set":
            spec["value"] = data.draw(st.sampled_from(sorted(TOML_VALUES)), label="value")
        return spec
    if category == "history":
        lines = _doc(template, target)
        op = data.draw(st.sampled_from(["edit", "edit", "edit", "delete", "duplicate", "swap", "insert"]),
                       label="line op")
        line = data.draw(st.integers(0, len(lines) - 1), label="line")
        spec = {"kind": "history", "line_op": op, "line": line,
                "reseal": data.draw(st.booleans(), label="reseal")}
        if op == "edit":
            spec.update(_json_edit(data, _json_paths(lines[line])))
        elif op == "insert":
            spec["text"] = data.draw(st.sampled_from(sorted(JSON_VALUES)), label="line text")
        return spec
    if category == "cache-search":
        header, columns, docs = _doc(template, target)
        part = data.draw(st.sampled_from(["header", "column", "doc"] if docs else ["header"]), label="part")
        spec = {"kind": "search-cache", "part": part}
        if part == "header":
            spec.update(_json_edit(data, _json_paths(header)))
        elif part == "column":
            spec["column"] = data.draw(st.sampled_from(sorted(columns)), label="column")
            spec.update(_json_edit(data, _json_paths(columns[spec["column"]])))
        else:
            spec["doc"] = data.draw(st.integers(0, len(docs) - 1), label="doc")
            spec.update(_json_edit(data, _json_paths(docs[spec["doc"]])))
        return spec
    doc = _lock_info_base() if category == "lock-info" else _doc(template, target)
    spec = {"kind": "json", **_json_edit(data, _json_paths(doc))}
    if category == "manifest":
        spec["readdress"] = data.draw(st.booleans(), label="readdress")
    return spec


def _intake_edit(data) -> dict:
    op = data.draw(st.sampled_from(["pins", "pins-link", "pins-fifo", "trash", "trash-link", "intake-link",
                                    "intake-file", "stray-file"]), label="intake op")
    spec = {"kind": "intake", "op": op, "old": data.draw(st.booleans(), label="old")}
    if op == "pins":
        spec["data"] = data.draw(st.sampled_from(["garbage", "referenced", "short", "binary", "huge-line"]),
                                 label="pins")
    elif op == "pins-link":
        spec["to"] = data.draw(st.sampled_from(SYMLINK_TARGETS), label="link to")
    elif op == "trash":
        spec["entry"] = data.draw(st.sampled_from(["referenced-hex", "missing-hex", "link-outside", "folder",
                                                   "odd-name", "fifo", "short-hex"]), label="trash entry")
    return spec


# --- mutations: applying them ------------------------------------------------------------------------

@dataclass
class Ctx:
    root: Path

    @property
    def mreg(self) -> Path:
        return self.root / "project" / ".mreg"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    def value_text(self, value: dict) -> str:
        if "named" in value:
            return JSON_VALUES[value["named"]].replace("{outside}", str(self.outside))
        return json.dumps(value["literal"], ensure_ascii=False, allow_nan=True)


def _edit_json(ctx: Ctx, doc, spec: dict, indent=None) -> bytes:
    """`doc` with one edit, as bytes; raw values (NaN, deep arrays, huge integers) are spliced in as text."""
    raws: dict[str, str] = {}

    def token(text: str) -> str:
        name = f"\u2063raw{len(raws)}\u2063"
        raws[name] = text
        return name

    path, op = spec["path"], spec["op"]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if op == "set":
        new = token(ctx.value_text(spec["value"]))
        if not path:
            doc = new
        else:
            parent[path[-1]] = new
    elif op == "delete":
        del parent[path[-1]]
    elif op == "rename":
        text = ctx.value_text(spec["value"])
        if not text.startswith('"'):
            text = json.dumps(text)
        new_key = token(text)
        items = list(parent.items())
        parent.clear()
        for key, value in items:
            parent[new_key if key == path[-1] else key] = value
    out = json.dumps(doc, ensure_ascii=False, allow_nan=True, indent=indent)
    for name, text in raws.items():
        out = out.replace(json.dumps(name, ensure_ascii=False), text)
    return out.encode("utf-8", "surrogatepass")


def _lock_info_base() -> dict:
    return {"pid": 4_000_000, "host": os.uname().nodename, "since": 1_700_000_000.5, "command": "mreg register m"}


def _split_search(raw: bytes):
    cut = raw.index(b"\n")
    header = json.loads(raw[:cut])
    body = raw[cut + 1:]
    columns = {name: json.loads(body[s:s + n]) for name, (s, n) in header["columns"].items()}
    start, length = header["docs"]
    docs = [json.loads(line) for line in body[start:start + length].split(b"\n")] if header["count"] else []
    return header, columns, docs


def _join_search(header: dict, columns: dict, docs: list, edited: bytes, spec: dict) -> bytes:
    """A search cache file with its offsets made consistent again, so the forgery is trusted."""
    parts = {name: json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
             for name, values in columns.items()}
    lines = [json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode() for d in docs]
    if spec["part"] == "column":
        parts[spec["column"]] = edited
    elif spec["part"] == "doc":
        lines[spec["doc"]] = edited
    body = bytearray()
    where = {}
    for name, data in parts.items():
        where[name] = [len(body), len(data)]
        body += data + b"\n"
    joined = b"\n".join(lines)
    header = dict(header, columns=where, docs=[len(body), len(joined)])
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    return head + b"\n" + bytes(body) + joined


def _symlink_target(ctx: Ctx, to: str, path: Path) -> str:
    return {"outside-file": str(ctx.outside / "secret.txt"), "outside-dir": str(ctx.outside / "folder"),
            "zero": str(ctx.outside / "zero"), "dangling": str(ctx.outside / "nowhere"), "self": path.name,
            "up": "../.."}[to]


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        if path.exists() or path.is_symlink():
            path.unlink()
    else:
        shutil.rmtree(path)


def _apply_fs(ctx: Ctx, path: Path, spec: dict) -> None:
    _remove(path)
    op = spec["op"]
    if op == "symlink":
        os.symlink(_symlink_target(ctx, spec["to"], path), path)
    elif op == "fifo":
        os.mkfifo(path)
    elif op == "directory":
        path.mkdir()
    elif op == "file":
        path.write_bytes(b"not a folder\n")


def _apply_bytes(path: Path, spec: dict) -> None:
    data = path.read_bytes() if path.exists() else b""
    op, at = spec["op"], spec.get("at", 0)
    at = min(at, max(len(data) - 1, 0))
    if op == "truncate":
        data = data[:at]
    elif op == "append":
        data += bytes.fromhex(spec["data"])
    elif op == "flip" and data:
        data = data[:at] + bytes([data[at] ^ spec["xor"]]) + data[at + 1:]
    elif op == "invalid-utf8":
        data = data[:at] + b"\xff\xfe\xc0" + data[at:]
    elif op == "empty":
        data = b""
    elif op == "replace":
        data = bytes.fromhex(spec["data"])
    elif op == "nul":
        data = data[:at] + b"\x00" + data[at:]
    _write(path, data)


def _write(path: Path, data: bytes, mode: int | None = None) -> None:
    mode = stat.S_IMODE(path.stat().st_mode) if mode is None and path.exists() else (mode or 0o644)
    if path.exists():
        os.chmod(path, 0o644)
    path.write_bytes(data)
    os.chmod(path, mode)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


class TomlText(str):
    """A value already written as TOML."""


def _toml_value(value) -> str:
    if isinstance(value, TomlText):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _render_toml(doc: dict) -> str:
    lines: list[str] = []

    def emit(table: dict, prefix: list[str]) -> None:
        if prefix:
            lines.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        for key, value in table.items():
            if not isinstance(value, dict):
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in table.items():
            if isinstance(value, dict):
                emit(value, [*prefix, key])

    emit(doc, [])
    return "\n".join(lines) + "\n"


def _apply_toml(path: Path, spec: dict) -> None:
    import tomllib

    doc = tomllib.loads(path.read_text())
    keys = spec["key"].split(".")
    table = doc
    for key in keys[:-1]:
        if not isinstance(table.get(key), dict):
            table[key] = {}
        table = table[key]
    if spec["op"] == "delete":
        table.pop(keys[-1], None)
    else:
        table[keys[-1]] = TomlText(TOML_VALUES[spec["value"]])
    _write(path, _render_toml(doc).encode())


def _reseal(lines: list[bytes], index_path: Path) -> list[bytes]:
    """Chain the history again after an edit, and point the index at it: a consistent forgery."""
    from mreg.core.history import GENESIS, seal

    events = [json.loads(line) for line in lines]
    if not all(isinstance(e, dict) for e in events):
        raise ValueError("not events")
    prev, out = GENESIS, []
    for seq, event in enumerate(events, start=1):
        sealed = seal({k: v for k, v in event.items() if k not in ("seq", "prev", "hash")}, prev, seq)
        prev = sealed["hash"]
        out.append(json.dumps(sealed, ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode())
    index = json.loads(index_path.read_bytes())
    index["history"] = {"events": len(out), "bytes": sum(len(line) + 1 for line in out), "head": prev}
    _write(index_path, json.dumps(index, indent=1).encode())
    return out


def _apply_history(ctx: Ctx, path: Path, spec: dict) -> None:
    lines = path.read_bytes().splitlines()
    i, op = spec["line"], spec["line_op"]
    if op == "edit":
        lines[i] = _edit_json(ctx, json.loads(lines[i]), spec)
    elif op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap" and i + 1 < len(lines):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif op == "insert":
        lines.insert(i, ctx.value_text({"named": spec["text"]}).encode("utf-8", "surrogatepass"))
    if spec.get("reseal"):
        try:
            lines = _reseal(lines, path.parent / "_index.json")
        except (ValueError, RecursionError, UnicodeError, TypeError):
            pass  # a line that is not an event cannot be sealed: the edit stays as it is
    _write(path, b"".join(line + b"\n" for line in lines))


def _readdress(ctx: Ctx, old_rel: str, data: bytes) -> None:
    """Store an edited manifest under its own digest and point every version at it."""
    old_hex = old_rel.replace("objects/", "").replace("/", "")
    new_hex = hashlib.sha256(data).hexdigest()
    new = ctx.mreg / "objects" / new_hex[:2] / new_hex[2:]
    new.parent.mkdir(exist_ok=True)
    if not new.exists():
        _write(new, data, 0o444)
    for index in (ctx.mreg / "models").rglob("_index.json"):
        text = index.read_bytes()
        if old_hex.encode() in text:
            _write(index, text.replace(old_hex.encode(), new_hex.encode()))


def _apply_intake(ctx: Ctx, spec: dict) -> None:
    intake = ctx.mreg / "intake"
    intake.mkdir(exist_ok=True)
    folder = intake / ("f" * 32)
    op = spec["op"]
    referenced = sorted(p.parent.name + p.name for p in (ctx.mreg / "objects").glob("*/*"))
    if op == "intake-link":
        os.symlink(ctx.outside / "folder", folder)
    elif op == "intake-file":
        folder.write_bytes(b"not an intake\n")
    elif op == "stray-file":
        (intake / "stray").write_bytes(b"x")
    else:
        folder.mkdir()
        pins = folder / "pins"
        if op == "pins":
            pins.write_bytes({"garbage": b"garbage\n../../x\n", "referenced": "\n".join(referenced).encode() + b"\n",
                              "short": b"abc\n", "binary": os.urandom(200),
                              "huge-line": b"a" * 1_000_000}[spec["data"]])
        elif op == "pins-link":
            os.symlink(_symlink_target(ctx, spec["to"], pins), pins)
        elif op == "pins-fifo":
            os.mkfifo(pins)
        else:
            pins.write_bytes(b"")
            trash = folder / "trash"
            if op == "trash-link":
                os.symlink(ctx.outside / "folder", trash)
            else:
                trash.mkdir()
                entry = spec["entry"]
                if entry == "referenced-hex":
                    (trash / referenced[0]).write_bytes(b"not the stored bytes")
                elif entry == "missing-hex":
                    (trash / ("e" * 64)).write_bytes(b"orphan")
                elif entry == "link-outside":
                    os.symlink(ctx.outside / "secret.txt", trash / ("d" * 64))
                elif entry == "folder":
                    (trash / ("c" * 64)).mkdir()
                    (trash / ("c" * 64) / "inside").write_bytes(b"x")
                elif entry == "odd-name":
                    (trash / "..x").write_bytes(b"x")
                elif entry == "fifo":
                    os.mkfifo(trash / ("b" * 64))
                elif entry == "short-hex":
                    (trash / "ab").write_bytes(b"x")
    if spec.get("old") and (folder.exists() or folder.is_symlink()):
        old = time.time() - 3 * 86400
        os.utime(folder, (old, old), follow_symlinks=False)


def apply_mutation(ctx: Ctx, target: str, spec: dict) -> None:
    path = ctx.mreg / target
    kind = spec["kind"]
    if kind == "fs":
        _apply_fs(ctx, path, spec)
    elif kind == "bytes":
        if target == "lock.json" and not path.exists():
            _write(path, json.dumps(_lock_info_base()).encode())
        _apply_bytes(path, spec)
    elif kind == "toml":
        _apply_toml(path, spec)
    elif kind == "history":
        _apply_history(ctx, path, spec)
    elif kind == "search-cache":
        header, columns, docs = _split_search(path.read_bytes())
        if spec["part"] == "header":
            _write(path, _edit_json(ctx, header, spec, None) + b"\n" + path.read_bytes().split(b"\n", 1)[1])
        else:
            doc = columns[spec["column"]] if spec["part"] == "column" else docs[spec["doc"]]
            _write(path, _join_search(header, columns, docs, _edit_json(ctx, doc, spec), spec))
    elif kind == "json":
        doc = _lock_info_base() if target == "lock.json" else json.loads(path.read_bytes())
        data = _edit_json(ctx, doc, spec, indent=1 if target.endswith("_index.json") else None)
        if spec.get("readdress"):
            _readdress(ctx, target, data)
        else:
            _write(path, data)
    elif kind == "intake":
        _apply_intake(ctx, spec)
    else:  # pragma: no cover
        raise AssertionError(kind)


def describe(target: str, spec: dict) -> str:
    """The mutation in words, as the failure message shows it."""
    def value(v):
        return v["named"] if "named" in v else f"literal {json.dumps(v['literal'])[:60]}"

    kind = spec["kind"]
    where = "".join(f"[{p!r}]" for p in spec.get("path", [])) or "(the whole document)"
    if kind == "fs":
        return f"replace by {spec['op']}" + (f" -> {spec['to']}" if "to" in spec else "")
    if kind == "bytes":
        extra = {k: v for k, v in spec.items() if k not in ("kind", "op")}
        return f"bytes {spec['op']} {extra if extra else ''}".strip()
    if kind == "toml":
        return f"toml {spec['key']} " + ("deleted" if spec["op"] == "delete" else f"= {spec['value']}")
    if kind == "intake":
        return "intake " + " ".join(f"{v}" for k, v in spec.items() if k not in ("kind",))
    if kind == "history" and spec["line_op"] != "edit":
        return f"history line {spec['line'] + 1} {spec['line_op']} {spec.get('text', '')}".rstrip() + (
            " (resealed)" if spec.get("reseal") else "")
    prefix = "json"
    if kind == "history":
        prefix = f"history line {spec['line'] + 1}"
    elif kind == "search-cache":
        prefix = f"search cache {spec['part']} {spec.get('column', spec.get('doc', ''))}".rstrip()
    edit = {"set": lambda: f"{where} = {value(spec['value'])}", "delete": lambda: f"{where} deleted",
            "rename": lambda: f"{where} key renamed to {value(spec['value'])}"}[spec["op"]]()
    suffix = " (resealed)" if spec.get("reseal") else " (re-addressed)" if spec.get("readdress") else ""
    return f"{prefix} {edit}{suffix}"


def _subject(target: str, template: Template, seed: str) -> str:
    m = re.match(r"models/(.+)/_(index\.json|history\.jsonl)$", target)
    if m:
        return m.group(1)
    m = re.match(r"cache/search/(.+)\.json$", target)
    if m:
        return m.group(1).replace("~", "/")
    m = re.match(r"models/(.+)$", target)
    if m and m.group(1) in template.versions:
        return m.group(1)
    import random

    return random.Random(seed).choice(sorted(template.versions))


FILTERS = ["metrics.acc > 0.5", "stage = 'production'", "name like '%'", "tags.team = 'ml' or params.lr < 1",
           "created_at > '2000-01-01'", "version >= '1.0.0'", "size > 0 and datasets.train != 'x'",
           "description ilike '%first%'"]
STAGES = ["development", "testing", "staging", "production", "deprecated", "archived", "nosuch"]


def commands_for(template: Template, subject: str, spec: dict, seed: str) -> list[list[str]]:
    """Every read and write command, on refs of the mutated model; reads first, the destructive last.

    The refs, stages and `--json` flags are chosen by a generator seeded with the mutation, not
    drawn by hypothesis: its examples then differ in the mutation, which is what is being explored.
    """
    import random

    pick = random.Random(seed)
    versions = template.versions.get(subject) or ["1.0.0"]
    refs = [f"{subject}@{v}" for v in versions] + [f"{subject}@{s}" for s in ("latest", "production", "deprecated",
                                                                              "archived")]
    path = spec.get("path") or []
    if len(path) >= 2 and path[0] == "versions" and path[1] in versions:
        refs += [f"{subject}@{path[1]}"] * len(refs)  # mostly the version whose record was edited

    def ref():
        return pick.choice(refs)

    commands = [
        ["list"], ["show", subject], ["show", ref()], ["history"], ["history", subject],
        ["search", pick.choice(FILTERS), "--sort", "metrics.acc"], ["diff", ref(), ref()],
        ["get", ref(), "-o", "{dest}/got"], ["get", ref(), "--path"], ["verify"],
        ["update", ref(), "-m", "k=1"], ["transition", ref(), pick.choice(STAGES), "-r", "fuzz"],
        ["promote", ref(), "-r", "fuzz"], ["rollback", subject, "-r", "fuzz"], ["gc", "--dry-run"],
        ["register", subject, pick.choice(["{project}/notes.txt", "{project}/data"])],
        ["rm", ref(), "-r", "fuzz", *(["--force"] if pick.random() < 0.5 else [])], ["gc", "--grace", "0s"],
    ]
    return [[*c, "--json"] if pick.random() < 0.5 else c for c in commands]


# --- the checks --------------------------------------------------------------------------------------

def _outside_state(root: Path) -> dict[str, str]:
    """Everything beside the registry (the project's own files, the folder links point to), with digests."""
    seen = {}
    skip = {root / "project" / ".mreg", root / "dest"}
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in [*dirs, *files]:
            p = here / name
            info = os.lstat(p)
            rel = str(p.relative_to(root))
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                seen[rel] = "link " + os.readlink(p)
            elif stat.S_ISREG(info.st_mode):
                seen[rel] = f"file {mode:o} " + hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISDIR(info.st_mode):
                seen[rel] = f"dir {mode:o}"
            else:
                seen[rel] = f"special {info.st_mode:o} {info.st_rdev}"
    return seen


def _stderr_problem(ran: Ran) -> str | None:
    err = ran.err
    if "Traceback" in err:
        tail = [line for line in err.strip().splitlines() if line and not line.startswith(" ")]
        return f"traceback: {tail[-1][:160] if tail else '?'}"
    if "internal error" in err:
        line = next(line for line in err.splitlines() if "internal error" in line)
        return f"internal error: {line.split('internal error:', 1)[1].strip()[:160]}"
    if ran.code != 0:
        lines = err.splitlines()
        errors = [line for line in lines if line.startswith("mreg: error:")]
        others = [line for line in lines if not line.startswith(("mreg: error:", "hint:", "mreg: warning:"))]
        if len(errors) != 1 or others:
            return f"stderr is not one error line: {err[:300]!r}"
    return None


def _json_problem(ran: Ran) -> str | None:
    if "--json" not in ran.argv or ran.code not in ALLOWED_EXITS:
        return None

    if ran.code != 0 and not ran.out.strip():
        return None  # a failure may print nothing on stdout; what it prints must be whole

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(ran.out, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        return f"--json printed no JSON document ({type(exc).__name__}: {str(exc)[:80]}): {ran.out[:200]!r}"
    return None


def check_command(ran: Ran, dest_dir: Path, dest: Path | None) -> list[str]:
    problems = []
    if ran.hung:
        frames = [line.strip() for line in ran.err.splitlines() if line.strip().startswith("File ")]
        where = [f for f in frames if "/mreg/" in f]
        ran.err = "\n".join(where)  # the child's stack below mreg is this test's own
        return [f"hang: killed after {TIMEOUT:g}s, at {where[0] if where else '?'}"]  # innermost first
    if ran.code not in ALLOWED_EXITS:
        problems.append(f"exit {ran.code}")
    problem = _stderr_problem(ran)
    if problem:
        problems.append(problem)
    problem = _json_problem(ran)
    if problem:
        problems.append(problem)
    extra = sorted(set(os.listdir(dest_dir)) - ({dest.name} if dest else set()))
    if extra:
        problems.append(f"wrote into the destination's folder: {extra}")
    if dest is not None and (dest.exists() or dest.is_symlink()):
        for dirpath, dirs, files in os.walk(dest):
            for name in [*dirs, *files]:
                p = Path(dirpath, name)
                if p.is_symlink() or not (p.is_dir() or p.is_file()):
                    problems.append(f"get created a link or special file: {p.relative_to(dest_dir)}")
        if dest.is_symlink():
            problems.append("get created a link as the destination")
    return problems


def _origin(project: Path, argv: list[str]) -> str:
    """Where an internal error comes from: the innermost frame of the same command under MREG_DEBUG=1."""
    ran = run_forked(project, argv[1:], env={"MREG_DEBUG": "1"})
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', ran.err)
    frames = [f for f in frames if "/mreg/" in f[0]]
    if not frames:
        return ""
    path, line, func = frames[-1]
    return f"{path[path.rfind('/mreg/') + 1:]}:{line} in {func}"


# --- one example -------------------------------------------------------------------------------------

@dataclass
class Failure:
    category: str
    target: str
    spec: dict
    argv: list[str]
    problem: str
    origin: str
    replay: str
    err: str

    def key(self) -> tuple:
        # A failure class: the kind of file, the kind of mutation, the command and the problem's first words.
        generic = re.sub(r"\[\d+\]|\['\d+\.\d+\.\d+'\]", "[*]", describe(self.target, self.spec))
        generic = re.sub(r"line \d+", "line *", generic)
        generic = re.sub(r"\{'at'.*|\{'data'.*", "", generic)
        problem = re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "…", self.problem))[:90]
        return (self.category, generic, self.argv[1], problem, self.origin)

    def text(self) -> str:
        return (f"  file:     .mreg/{self.target} ({self.category})\n"
                f"  mutation: {describe(self.target, self.spec)}\n"
                f"  command:  {' '.join(self.argv)}   (in the project folder)\n"
                f"  problem:  {self.problem}\n"
                + (f"  origin:   {self.origin}\n" if self.origin else "")
                + f"  stderr:   {self.err.strip()[-400:]!r}\n"
                f"  replay:   {self.replay}")


def run_example(template: Template, work: Path, category: str, target: str, spec: dict,
                commands: list[list[str]]) -> list[Failure]:
    root = work / "case"
    shutil.copytree(template.root, root, symlinks=True)
    project = root / "project"
    dest_dir = root / "dest"
    ctx = Ctx(root)
    _zero_device(root / "outside")
    try:
        if category in ("cache-summary", "cache-search"):
            _refresh_cache(project)  # the entries now match this copy's index files, so readers trust them
        apply_mutation(ctx, target, spec)
        before = _outside_state(root)
        parents = [sorted(os.listdir(work)), sorted(os.listdir(work.parent))]
        replay = "MREG_FUZZ_REPLAY=" + _shell_quote(json.dumps(
            {"category": category, "target": target, "mutation": spec, "commands": commands},
            separators=(",", ":"))) + " python -m pytest -q tests/reliability/test_fuzz_registry.py -k replay"
        failures = []
        for command in commands:
            args = [a.replace("{dest}", str(dest_dir)).replace("{project}", str(project)) for a in command]
            dest = Path(args[args.index("-o") + 1]) if "-o" in args else None
            ran = run_forked(project, args)
            tally("hostile registries: commands run")
            problems = check_command(ran, dest_dir, dest)
            after = _outside_state(root)
            if after != before:
                changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                problems.append(f"changed outside the registry: {changed[:6]}")
                before = after
            if [sorted(os.listdir(work)), sorted(os.listdir(work.parent))] != parents or os.path.lexists(
                    ABSOLUTE_PROBE):
                problems.append(f"wrote beside the example folder (or its parent) or at {ABSOLUTE_PROBE}")
            for problem in problems:
                origin = _origin(project, ran.argv) if problem.startswith(("internal error", "traceback")) else ""
                failures.append(Failure(category, target, spec, ran.argv, problem, origin, replay, ran.err))
            if dest is not None and (dest.exists() or dest.is_symlink()):
                _remove(dest)
            for stray in os.listdir(dest_dir):
                _remove(dest_dir / stray)
        return failures
    finally:
        _chmod_writable(root)
        shutil.rmtree(root, ignore_errors=True)


def _chmod_writable(root: Path) -> None:
    for dirpath, dirs, _ in os.walk(root):
        for d in dirs:
            p = Path(dirpath, d)
            if not p.is_symlink():
                os.chmod(p, 0o755)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _summary(failures: list[Failure]) -> str:
    classes: dict[tuple, list[Failure]] = {}
    for failure in failures:
        classes.setdefault(failure.key(), []).append(failure)
    out = [f"{len(failures)} failing command runs in {len(classes)} classes (category | mutation | command | problem"
           " | origin):"]
    for key, members in sorted(classes.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        out.append(f"- {len(members)}x " + " | ".join(k for k in key if k))
    out.append("\nfirst of each class:")
    for members in list(classes.values())[:40]:
        out.append(members[0].text())
    return "\n".join(out)


# --- the tests ---------------------------------------------------------------------------------------

def test_fork_runner_matches_a_subprocess(template, tmp_path):
    """The fork runner is only a faster way to start the real entry point: same exit, stdout, stderr."""
    root = tmp_path / "copy"
    shutil.copytree(template.root, root, symlinks=True)
    project = root / "project"
    (project / ".mreg" / "models" / "d" / "_index.json").write_text("{broken")
    lines = [["list"], ["list", "--json"], ["show", "m@1.0.0", "--json"], ["history", "m"], ["search", "metrics.acc >"],
             ["diff", "m@1.0.0", "m@2.0.0"], ["show", "nosuch"], ["show", "d"], ["verify", "--json"],
             ["transition", "m@1.0.0", "bogus"], ["get", "m@1.0.2", "-o", str(root / "dest" / "x"), "--json"]]
    for args in lines:
        forked = run_forked(project, args)
        if "get" in args:
            shutil.rmtree(root / "dest" / "x")
        env = dict(os.environ)
        for key, value in ENV.items():
            env.pop(key, None) if value is None else env.__setitem__(key, value)
        done = subprocess.run(mreg_argv(*args), cwd=project, capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=60)
        if "get" in args:
            shutil.rmtree(root / "dest" / "x")
        assert (forked.code, forked.out, forked.err) == (done.returncode, done.stdout, done.stderr), args
        assert not forked.hung


def test_the_checks_can_fail(template, tmp_path):
    """A command kept waiting is reported as a hang; tracebacks, extra error lines and NaN are caught."""
    import fcntl

    root = tmp_path / "copy"
    shutil.copytree(template.root, root, symlinks=True)
    project = root / "project"
    fd = os.open(project / ".mreg" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a live holder: the update waits for it
        ran = run_forked(project, ["update", "m@1.0.0", "-m", "k=1", "--lock-timeout", "30"], timeout=1)
    finally:
        os.close(fd)
    assert ran.hung and check_command(ran, root / "dest", None)[0].startswith("hang")
    assert _stderr_problem(Ran(["mreg"], 1, "", "Traceback (most recent call last):\nKeyError: 'x'\n")) == \
        "traceback: KeyError: 'x'"
    assert _stderr_problem(Ran(["mreg"], 1, "", "mreg: error: internal error: TypeError: x\n")).startswith("internal")
    assert _stderr_problem(Ran(["mreg"], 3, "", "mreg: error: a\nmreg: error: b\n"))
    assert _stderr_problem(Ran(["mreg"], 3, "", "mreg: error: a\nhint: b\n")) is None
    assert _json_problem(Ran(["mreg", "show", "--json"], 0, '{"a": NaN}', ""))
    (root / "outside" / "secret.txt").write_text("changed")
    assert _outside_state(root) != _outside_state(template.root)


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not FULL, database=None,
                phases=(Phase.explicit, Phase.generate), print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


def test_hostile_registries(template, tmp_path):
    """A mutated `.mreg/`, every command: exit 0/1/2/3/5, one error line, no hang, nothing written outside."""
    collected: list[Failure] = []
    work = tmp_path / "work"
    work.mkdir()

    @FUZZ
    @given(data=st.data())
    def one(data):
        category = data.draw(st.sampled_from(CATEGORIES), label="category")
        target = data.draw(st.sampled_from(template.targets[category]), label="file")
        spec = draw_mutation(data, template, category, target)
        seed = json.dumps([target, spec], sort_keys=True)
        commands = commands_for(template, _subject(target, template, seed), spec, seed)
        if os.environ.get("MREG_FUZZ_TRACE"):  # what was tried, one line per example
            with open(os.environ["MREG_FUZZ_TRACE"], "a") as trace:
                trace.write(f"{category}\t{target}\t{describe(target, spec)}\n")
        failures = run_example(template, work, category, target, spec, commands)
        tally("hostile registries: mutations tried")
        if failures and not KEEP_GOING:
            raise AssertionError("a hostile registry broke the guarantee:\n\n"
                                 + "\n\n".join(f.text() for f in failures[:8]))
        collected.extend(failures)

    one()
    assert not collected, _summary(collected)


def test_replay(template, tmp_path):
    """MREG_FUZZ_REPLAY=<the JSON a failure printed>: run exactly that example again."""
    spec = os.environ.get("MREG_FUZZ_REPLAY")
    if not spec:
        pytest.skip("set MREG_FUZZ_REPLAY to the JSON a failure of test_hostile_registries printed")
    case = json.loads(spec)
    work = tmp_path / "work"
    work.mkdir()
    failures = run_example(template, work, case["category"], case["target"], case["mutation"], case["commands"])
    assert not failures, "\n\n".join(f.text() for f in failures)
