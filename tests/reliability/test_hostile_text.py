"""Untrusted text and values from users and artifacts: bytes that are not UTF-8,
special files named as datasets, absurd facts in a header, numbers that do not
survive parsing. Each gets one error line and exit 2, and changes nothing.

Arguments are passed to the real CLI as bytes (as a shell passes them), on the
fast path and through typer alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mregtest import run_on_pty, write_safetensors

PATHS = {"fast": {}, "typer": {"_MREG_TYPER_ONLY": "1"}}


def run(cwd: Path, *args, env: dict | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    """The real CLI with arguments as bytes (str arguments are encoded as the OS does)."""
    argv = [sys.executable.encode(), b"-m", b"mreg", *(os.fsencode(a) if isinstance(a, str) else a for a in args)]
    environ = {**os.environ, **(env or {})}
    environ = {key: value for key, value in environ.items() if value is not None}  # None: unset
    done = subprocess.run(argv, cwd=cwd, capture_output=True, env=environ, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr, done.stderr
    return done


def registry_state(project: Path) -> dict[str, str]:
    """Every file of the registry but its lock, with a digest: what "no change" compares."""
    state = {}
    root = project / ".mreg"
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            rel = str(path.relative_to(root))
            if rel not in ("lock", "lock.json"):
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def refused(project: Path, *args, env: dict | None = None, naming: bytes, code: int = 2) -> None:
    """`args` is refused with `code` on both paths, with one error line naming the fault, and changes nothing."""
    before = registry_state(project)
    for path, path_env in PATHS.items():
        done = run(project, *args, env={**(env or {}), **path_env})
        assert done.returncode == code, (path, args, done.stderr)
        first = done.stderr.splitlines()[0]
        assert first.startswith(b"mreg: error: ") and naming in first, (path, done.stderr)
        assert registry_state(project) == before, (path, args)


# --- text that is not UTF-8 ----------------------------------------------------


@pytest.mark.parametrize(
    "args, naming",
    [
        ([b"-m", b"\xff=1"], b"--metric"),
        ([b"-p", b"lr=\xff"], b"--param lr"),
        ([b"-t", b"team=\xffnlp"], b"--tag team"),
        ([b"-t", b"te\xffam=nlp"], b"--tag"),
        ([b"--reason", b"because \xff"], b"--reason"),
        ([b"--description", b"\xfe\xff"], b"--description"),
        ([b"--framework", b"\xff"], b"--framework"),
        ([b"--dataset", b"tr\xffain=s3://b/x"], b"--dataset"),
        ([b"--dataset", b"train=s3://b/\xff"], b"dataset train"),
    ],
    ids=lambda v: v.decode("ascii", "backslashreplace") if isinstance(v, bytes) else None,
)
def test_register_refuses_options_that_are_not_utf8(project, args, naming):
    (project / "a.bin").write_bytes(b"a")
    refused(project, "register", "m", "a.bin", *args, naming=naming)
    assert run(project, "list").stdout == b""


def test_register_refuses_a_user_that_is_not_utf8(project):
    (project / "a.bin").write_bytes(b"a")
    refused(project, "register", "m", "a.bin", env={"MREG_USER": os.fsdecode(b"ana\xff")}, naming=b"MREG_USER")


def test_register_refuses_a_git_user_email_that_is_not_utf8(project, tmp_path):
    (project / "a.bin").write_bytes(b"a")
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_bytes(b"[user]\n\temail = ana\xff@example.com\n")
    refused(project, "register", "m", "a.bin", env={"MREG_USER": None, "GIT_CONFIG_GLOBAL": str(gitconfig)},
            naming=b"user.email")


def test_a_file_whose_name_is_not_utf8_is_refused_before_it_is_stored(project):
    # The name is recorded with the version (and is where `get` writes by default).
    (project / os.fsdecode(b"model\xff.bin")).write_bytes(b"weights")
    refused(project, "register", "m", b"model\xff.bin", naming=b"name of")
    assert not list((project / ".mreg" / "objects").rglob("*"))  # not a byte stored


def test_lone_surrogates_in_a_metadata_file_are_refused(project):
    (project / "a.bin").write_bytes(b"a")
    (project / "keys.json").write_text('{"params": {"\\ud800": 1}}')
    (project / "top.json").write_text('{"\\udfff": 1}')
    (project / "value.json").write_text('{"tags": {"t": "x\\ud800"}}')
    for name in ("keys.json", "top.json", "value.json"):
        refused(project, "register", "m", "a.bin", "--metadata-file", name, naming=name.encode())


@pytest.mark.parametrize(
    "args, naming",
    [
        ([b"update", b"m@1.0.0", b"-t", b"team=\xff"], b"--tag team"),
        ([b"update", b"m@1.0.0", b"-t", b"\xff=x"], b"--tag"),
        ([b"update", b"m@1.0.0", b"-m", b"a\xff=1"], b"--metric"),
        ([b"update", b"m@1.0.0", b"-p", b"\xff=1"], b"--param"),
        ([b"update", b"m@1.0.0", b"-m", b"a=2", b"--reason", b"\xff"], b"--reason"),
        ([b"promote", b"m@1.0.0", b"--reason", b"\xff"], b"--reason"),
        ([b"transition", b"m@1.0.0", b"testing", b"--reason", b"\xff"], b"--reason"),
        ([b"rm", b"m@1.0.0", b"--reason", b"\xff"], b"--reason"),
    ],
    ids=lambda v: b" ".join(v[:1]).decode() if isinstance(v, list) else None,
)
def test_changes_refuse_text_that_is_not_utf8(project, args, naming):
    (project / "a.bin").write_bytes(b"a")
    assert run(project, "register", "m", "a.bin", "-q").returncode == 0
    refused(project, *args, naming=naming)


def test_a_user_that_is_not_utf8_cannot_change_anything(project):
    (project / "a.bin").write_bytes(b"a")
    assert run(project, "register", "m", "a.bin", "-q").returncode == 0
    refused(project, "promote", "m@1.0.0", env={"MREG_USER": os.fsdecode(b"\xffana")}, naming=b"MREG_USER")


# --- special files named as datasets or metadata -----------------------------


@pytest.fixture
def specials(project):
    """A FIFO and a socket in the project (opening the FIFO for reading waits for a writer forever)."""
    os.mkfifo(project / "fifo")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(project / "sock"))
    (project / "a.bin").write_bytes(b"a")
    yield project
    listener.close()


@pytest.mark.parametrize(
    "spec, naming",
    [("./fifo", b"FIFO"), ("./sock", b"socket"), ("/dev/zero", b"device")],
)
def test_a_dataset_that_is_not_a_file_or_directory_is_refused_without_waiting(specials, spec, naming):
    refused(specials, "register", "m", "a.bin", "--dataset", f"train={spec}", naming=naming)
    (specials / "meta.json").write_text(json.dumps({"datasets": {"train": spec}}))
    refused(specials, "register", "m", "a.bin", "--metadata-file", "meta.json", naming=naming)


@pytest.mark.parametrize("name, naming", [("fifo", b"FIFO"), ("sock", b"socket"), ("/dev/zero", b"device")])
def test_a_metadata_file_that_is_not_a_regular_file_is_refused_without_waiting(specials, name, naming):
    refused(specials, "register", "m", "a.bin", "--metadata-file", name, naming=naming)


def test_a_dataset_directory_is_still_hashed_and_a_fifo_inside_it_refused(specials):
    data = specials / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n")
    done = run(specials, "register", "m", "a.bin", "--dataset", "train=data", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["datasets"]["train"]["kind"] == "directory"
    os.mkfifo(data / "pipe")
    refused(specials, "register", "m", "a.bin", "--dataset", "train=data", naming=b"FIFO")


# --- facts read from an artifact, and facts read from a registry --------------


def _crafted_safetensors(path: Path, dimensions: int) -> None:
    """A well-formed safetensors header claiming one tensor of `dimensions` dimensions of 10**18."""
    import struct

    raw = json.dumps({"w": {"dtype": "F32", "shape": [10**18] * dimensions, "data_offsets": [0, 0]}}).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def at_terminal(cwd: Path, *args: str) -> tuple[int, str, str]:
    """(exit code, what stdout drew on a pseudo-terminal, stderr)."""
    run = run_on_pty(args, cwd, stream="stdout", columns=120, timeout=60)
    return run.code, run.drawn.decode(errors="replace"), run.piped.decode(errors="replace")


@pytest.mark.parametrize("dimensions", [200, 250])
def test_a_crafted_safetensors_shape_is_not_believed(project, dimensions):
    # 250 dimensions of 10**18 is a 4,500-digit count (past Python's int-to-text
    # limit: register crashed); 200 is 3,600 digits (past a float: show crashed).
    _crafted_safetensors(project / "crafted.safetensors", dimensions)
    done = run(project, "register", "m", "crafted.safetensors", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["format"] == "safetensors" and doc["parameters"] is None
    assert b"warning:" in done.stderr and b"no parameter count recorded" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    (project / "plain.bin").write_bytes(b"x")
    assert run(project, "register", "m", "plain.bin", "-q").returncode == 0
    for args in (["show", "m@1.0.0"], ["diff", "m@1.0.0", "m@1.0.1"], ["list"]):
        code, drawn, err = at_terminal(project, *args)
        assert code == 0 and "Traceback" not in err and "internal error" not in err, (args, err)


def test_a_sound_header_is_still_counted_next_to_a_crafted_one(project, tmp_path):
    model = project / "model"
    model.mkdir()
    write_safetensors(model / "a.safetensors", {"w": ("F32", [3, 4])})
    done = run(project, "register", "ok", "model", "--json")
    assert json.loads(done.stdout)["parameters"] == 12
    _crafted_safetensors(model / "b.safetensors", 70)
    done = run(project, "register", "ok", "model", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["parameters"] == 12  # b's shape is not believed
    assert b"b.safetensors" in done.stderr and b"not believed" in done.stderr


def test_huge_numbers_in_a_registry_from_elsewhere_never_crash_the_views(project):
    (project / "a.bin").write_bytes(b"a")
    for _ in range(2):
        assert run(project, "register", "m", "a.bin", "-q", "-m", "loss=1").returncode == 0
    index = project / ".mreg" / "models" / "m" / "_index.json"
    doc = json.loads(index.read_text())
    doc["versions"]["1.0.0"].update(parameters=10**3600, size=10**3000, dtypes=[1, "F32"])
    doc["versions"]["1.0.0"]["metrics"]["loss"] = 10**3000
    doc["versions"]["1.0.1"].update(parameters=7, dtypes="F32")
    index.write_text(json.dumps(doc))
    for args in (["show", "m@1.0.0"], ["show", "m"], ["diff", "m@1.0.0", "m@1.0.1"], ["list"],
                 ["search", "parameters > 5"]):
        code, drawn, err = at_terminal(project, *args)
        # A validating reader may refuse such a file (exit 3); no reader may crash on it.
        assert code in (0, 3) and "Traceback" not in err and "internal error" not in err, (args, err)
        piped = run(project, *args)
        assert piped.returncode in (0, 3), (args, piped.stderr)


@pytest.mark.parametrize("kind", ["fifo", "device", "deep"])
def test_user_settings_that_are_not_a_small_file_are_refused_without_waiting(project, tmp_path, kind):
    settings = tmp_path / "settings"
    settings.mkdir()
    if kind == "fifo":
        os.mkfifo(settings / "config.toml")
    elif kind == "device":
        os.symlink("/dev/zero", settings / "config.toml")  # endless: never read whole
    else:
        (settings / "config.toml").write_text("a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n")
    done = run(project, "list", env={"MREG_CONFIG_DIR": str(settings)})
    assert done.returncode == 2 and done.stderr.startswith(b"mreg: error: cannot read user settings"), done.stderr


def test_lone_surrogates_in_a_registry_from_elsewhere_are_shown_escaped(project):
    # JSON can spell text that is not Unicode ("\ud800"); writing it to stdout as is fails.
    (project / "a.bin").write_bytes(b"a")
    assert run(project, "register", "m", "a.bin", "-q", "-t", "t=x").returncode == 0
    index = project / ".mreg" / "models" / "m" / "_index.json"
    index.write_text(index.read_text().replace('"t": "x"', '"t": "\\ud800\\u001b[2J"'))
    for args in (["show", "m@1.0.0"], ["show", "m@1.0.0", "--json"], ["show", "m"], ["list"]):
        piped = run(project, *args)
        assert piped.returncode in (0, 3), (args, piped.stderr)
        assert b"\x1b" not in piped.stdout
        code, drawn, err = at_terminal(project, *args)
        assert code in (0, 3) and "Traceback" not in err and "internal error" not in err, (args, err)
        assert "\x1b[2J" not in drawn
    shown = run(project, "show", "m@1.0.0", "--json")
    if shown.returncode == 0:
        assert json.loads(shown.stdout)["tags"]["t"] == "\ud800\x1b[2J"  # JSON keeps what it read
