"""Helpers shared by the test modules: the CLI runner and artifact makers.

Import them as `from mregtest import Mreg, write_safetensors` (a module of its
own so that it never collides with another folder's conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def drain_pty(main: int) -> bytes:
    """Everything written to a pseudo-terminal until the child's side of it closes."""
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: every holder of the child's side has closed it
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
