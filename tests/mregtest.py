"""Helpers shared by the test modules: the CLI runner and artifact makers.

Import them as `from mregtest import Mreg, write_safetensors` (a module of its
own so that it never collides with another folder's conftest).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


class Result:
    def __init__(self, done: subprocess.CompletedProcess):
        self.code = done.returncode
        self.out = done.stdout
        self.err = done.stderr

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}>"


class Mreg:
    """Runs the real `mreg` command (python -m mreg) in a subprocess.

    Like httpie's test helper, a call fails the test when the exit code is not
    the one the test expects (0 unless it says otherwise).
    """

    def __init__(self, cwd: Path):
        self.cwd = cwd

    def __call__(self, *args: str, expect: int | None = 0, input: str | None = None, env: dict | None = None,
                 cwd: Path | None = None, timeout: float = 120) -> Result:
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        done = subprocess.run(
            [sys.executable, "-m", "mreg", *map(str, args)],
            cwd=cwd or self.cwd, capture_output=True, text=True, input=input, env=full_env, timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        result = Result(done)
        if expect is not None:
            assert result.code == expect, f"expected exit {expect}, got {result!r}"
        if result.code not in (0,) and "Traceback" in result.err and not (env or {}).get("MREG_DEBUG"):
            raise AssertionError(f"traceback on stderr: {result!r}")
        return result


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> int:
    """Write a real safetensors file by hand (header + zero data); return the parameter count."""
    import struct

    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I8": 1}
    header, offset, count = {}, 0, 0
    for name, (dtype, shape) in tensors.items():
        n = 1
        for dim in shape:
            n *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n * sizes[dtype]]}
        offset += n * sizes[dtype]
        count += n
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return count


def peak_rss_of(cwd: Path, *args: str) -> int:
    """Peak resident memory, in bytes, of one real `mreg ARGS…` process (which must succeed).

    Measured from a small parent of its own: ru_maxrss of RUSAGE_CHILDREN in
    the test process would include every earlier child."""
    probe = (
        "import resource, subprocess, sys\n"
        f"done = subprocess.run([sys.executable, '-m', 'mreg', *{list(args)!r}], capture_output=True, text=True)\n"
        "assert done.returncode == 0, done.stderr\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def as_at_a_terminal() -> None:
    """preexec_fn for a child that must react to Ctrl-C as it would at a terminal.

    A shell starts background jobs with SIGINT ignored, and Python keeps an
    ignored SIGINT ignored; a suite run from such a job would otherwise see its
    SIGINT tests pass or fail by how it was started."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def drain_pty(main: int, answer: bytes | None = None, deadline: float | None = None) -> bytes:
    """Everything written to a pseudo-terminal until the child's side of it closes.

    With `answer`, it is typed once, when the first `?` (a prompt) has been shown;
    with `deadline` (a time.monotonic()), reading stops there."""
    chunks = []
    answered = answer is None
    while deadline is None or time.monotonic() < deadline:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: every holder of the child's side has closed it
            break
        if not data:
            break
        chunks.append(data)
        if not answered and b"?" in b"".join(chunks):
            os.write(main, answer)
            answered = True
    return b"".join(chunks)


@dataclass
class PtyRun:
    """What one mreg call under a pseudo-terminal left."""

    drawn: bytes  # everything the pseudo-terminal showed
    piped: bytes  # the other stream, piped (b"" when both are on the pseudo-terminal)
    code: int


def run_on_pty(args, cwd, *, stream: str = "stdout", columns: int | None = None, env: dict | None = None,
               answer: bytes | None = None, timeout: float = 120) -> PtyRun:
    """Run `mreg ARGS` in `cwd` with `stream` on a pseudo-terminal: "stdout" or "stderr" (the other
    piped), or "both"; with `answer`, stdin is the pseudo-terminal too and `answer` is typed at
    the first prompt. `columns` sets the terminal's width (COLUMNS, LINES=50, TERM=xterm-256color)
    over `env` (default: this process's environment)."""
    env = dict(os.environ if env is None else env)
    if columns is not None:
        env.update(COLUMNS=str(columns), LINES="50", TERM="xterm-256color")
    main, child = pty.openpty()
    streams = {"stdout": {"stdout": child, "stderr": subprocess.PIPE},
               "stderr": {"stdout": subprocess.PIPE, "stderr": child},
               "both": {"stdout": child, "stderr": child}}[stream]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mreg", *map(str, args)], cwd=cwd, env=env,
                                stdin=child if answer is not None else subprocess.DEVNULL, **streams)
    finally:
        os.close(child)
    piped = []
    pipe = proc.stdout or proc.stderr
    # Read the piped stream beside the pseudo-terminal: a full pipe would stall the child.
    reader = threading.Thread(target=lambda: piped.append(pipe.read())) if pipe else None
    if reader:
        reader.start()
    drawn = drain_pty(main, answer, time.monotonic() + timeout)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        os.close(main)
    if reader:
        reader.join()
        pipe.close()
    return PtyRun(drawn, piped[0] if piped else b"", code)
