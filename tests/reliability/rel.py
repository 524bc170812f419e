"""Helpers for the reliability suite: real processes, real signals, real filesystems.

The CI subset runs by default; `MREG_FULL=1` scales every count up (see
docs/reliability.md). Each fault test ends with `check_registry`: `mreg verify`
passes, every version that must be there comes back byte-identical through
`mreg get`, no exclusive stage has two holders, and no temporary file is left
where a reader could see it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mregtest import as_at_a_terminal

FULL = os.environ.get("MREG_FULL") == "1"
STRACE = shutil.which("strace")
# Figures each test adds to, printed at the end of the session (docs/reliability.md quotes them).
FIGURES: dict[str, int] = {}


def scale(ci: int, full: int) -> int:
    return full if FULL else ci


def tally(key: str, n: int = 1) -> None:
    FIGURES[key] = FIGURES.get(key, 0) + n


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mreg_argv(*args) -> list[str]:
    return [sys.executable, "-m", "mreg", *map(str, args)]


class Run:
    def __init__(self, code: int, out: str, err: str, argv) -> None:
        self.code, self.out, self.err, self.argv = code, out, err, argv

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"<{self.argv[3:]} exit {self.code}\nstdout: {self.out[-1500:]}\nstderr: {self.err[-1500:]}>"


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.err and "internal error" not in run.err, run


def cli(cwd, *args, expect=None, env=None, timeout=300, prefix=()) -> Run:
    """Run the real CLI; `expect` is an exit code or a tuple of allowed codes."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    argv = [*prefix, *mreg_argv(*args)]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=full_env, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    run = Run(done.returncode, done.stdout, done.stderr, argv)
    no_traceback(run)
    if expect is not None:
        allowed = expect if isinstance(expect, tuple) else (expect,)
        assert run.code in allowed, f"expected exit {allowed}, got {run!r}"
    return run


def spawn(cwd, *args, env=None, **kw) -> subprocess.Popen:
    full_env = dict(os.environ, PYTHONFAULTHANDLER="1")
    if env:
        full_env.update(env)
    kw.setdefault("preexec_fn", as_at_a_terminal)
    return subprocess.Popen(mreg_argv(*args), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout=120) -> Run:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack on stderr
        out, err = proc.communicate()
        raise AssertionError(f"{proc.args[3:]} hung for {timeout}s; its stacks:\n{err[-6000:]}") from None
    run = Run(proc.returncode, out, err, proc.args)
    if proc.returncode >= 0:
        no_traceback(run)
    return run


def kill_after(proc: subprocess.Popen, delay: float) -> Run:
    """SIGKILL `proc` after `delay` seconds unless it ended first."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return finish(proc)


def init_registry(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    cli(path, "init", ".", expect=0)
    return path


def snapshot_outside(project: Path) -> dict[str, str]:
    """Every path under `project` except `.mreg/`, with a digest of each file."""
    seen = {}
    for root, dirs, files in os.walk(project):
        rel = os.path.relpath(root, project)
        if rel == "." and ".mreg" in dirs:
            dirs.remove(".mreg")
        for d in dirs:
            seen[os.path.normpath(os.path.join(rel, d)) + "/"] = "dir"
        for f in files:
            p = os.path.join(root, f)
            seen[os.path.normpath(os.path.join(rel, f))] = "link" if os.path.islink(p) else sha(Path(p).read_bytes())
    return seen


def read_indexes(project: Path) -> dict[str, dict]:
    """Every model's index document, read straight from disk."""
    out = {}
    models = project / ".mreg" / "models"
    for root, _, files in os.walk(models):
        if "_index.json" in files:
            doc = json.loads(Path(root, "_index.json").read_bytes())
            out[doc["name"]] = doc
    return out


def leftovers(project: Path) -> list[str]:
    """Temporary files a finished (not killed) command must not leave behind."""
    bad = []
    for root, dirs, files in os.walk(project / ".mreg" / "models"):
        bad += [os.path.join(root, f) for f in files if ".tmp-" in f]
    intake = project / ".mreg" / "intake"
    if intake.is_dir():
        bad += [str(p) for p in intake.iterdir()]
    for p in project.iterdir():
        if p.name.startswith(".mreg-get-") or ".mreg-old-" in p.name:
            bad.append(str(p))
    return bad


def tree_digest(path: Path) -> object:
    """A file's digest, or a directory's {relpath: digest}: what `get` must give back."""
    if path.is_file():
        return sha(path.read_bytes())
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = Path(root, f)
            assert not p.is_symlink(), f"get created a link: {p}"
            out[os.path.relpath(p, path)] = sha(p.read_bytes())
    return out


def check_registry(project: Path, expected: dict[str, object] | None = None, *, gets: str = "all",
                   scratch: Path | None = None, exclusive=("production",)) -> dict[str, dict]:
    """The post-fault oracle. `expected` maps NAME@VERSION to what `get` must return
    (a tree_digest); versions not in it may be present only if whole (`verify`)."""
    run = cli(project, "verify", "--json")
    assert run.code == 0 and run.json["ok"], run
    indexes = read_indexes(project)
    present = {f"{n}@{v}": rec for n, doc in indexes.items() for v, rec in doc["versions"].items()}
    for name, doc in indexes.items():
        for stage in exclusive:
            holders = [v for v, r in doc["versions"].items() if r["stage"] == stage]
            assert len(holders) <= 1, f"{name}: {stage} held by {holders}"
    expected = expected or {}
    missing = sorted(set(expected) - set(present))
    assert not missing, f"committed versions lost: {missing[:10]}"
    import tempfile

    scratch = scratch or Path(tempfile.mkdtemp(prefix="mreg-check-"))
    scratch.mkdir(exist_ok=True)
    refs = sorted(expected) if gets == "expected" else sorted(present)
    for i, ref in enumerate(refs):
        dest = scratch / f"get-{i}"
        run = cli(project, "get", ref, "-o", dest, expect=0)
        got = tree_digest(dest)
        if ref in expected:
            assert got == expected[ref], f"{ref} came back different"
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    shutil.rmtree(scratch, ignore_errors=True)
    return indexes


def lock_is_free(project: Path) -> bool:
    import fcntl

    fd = os.open(project / ".mreg" / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def wait_for(predicate, timeout=30.0, interval=0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
