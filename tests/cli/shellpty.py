"""Interactive shells on a pseudo-terminal, for completion tests that go through
the shell's own word splitting: keys are typed, TAB is pressed, and the line the
shell ends up with (and, for bash, the COMPREPLY it got) is read back."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import threading
import time
from pathlib import Path


class PtyShell:
    """A shell started with `argv` on a pty; `run` types a command line, `tab` presses TAB."""

    def __init__(self, argv: list[str], cwd: Path, env: dict, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        main, child = pty.openpty()
        os.set_blocking(main, True)
        self.main = main
        self.proc = subprocess.Popen(argv, cwd=cwd, env={**env, "OUT": str(out)}, stdin=child, stdout=child,
                                     stderr=child, start_new_session=True, close_fds=True)
        os.close(child)
        self.screen = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.main, 65536)
            except OSError:
                return
            if not data:
                return
            self.screen.extend(data)

    def type(self, keys: str) -> None:
        os.write(self.main, keys.encode())

    def run(self, command: str, timeout: float = 20) -> None:
        """Run `command` and wait until the shell has finished it."""
        done = self.out / "done"
        done.unlink(missing_ok=True)
        self.type(f"{command}; : > \"$OUT/done\"\r")
        self._wait(done, timeout)
        # Keys typed before the line editor is back may be dropped (zsh
        # discards typeahead): wait for the next prompt.
        deadline = time.monotonic() + timeout
        while not re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", bytes(self.screen)).rstrip(b" ").endswith(b"$"):
            if time.monotonic() > deadline:
                raise AssertionError(f"no prompt; the screen:\n{self.screen.decode(errors='replace')[-3000:]}")
            time.sleep(0.02)

    def _wait(self, path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"the shell did not answer; its screen:\n{self.screen.decode(errors='replace')[-3000:]}")
            time.sleep(0.02)

    def tab(self, line: str, dump_key: str, timeout: float = 20) -> str:
        """Type `line`, press TAB once, and return the line as the shell then holds it.

        `dump_key` is bound (by the caller's setup) to write the line to $OUT/line.
        """
        result = self.out / "line"
        result.unlink(missing_ok=True)
        self.type(line + "\t" + dump_key)
        self._wait(result, timeout)
        text = result.read_text()
        self.type("\x01\x0b")  # C-a C-k: an empty line for the next case
        return text

    def close(self) -> None:
        try:
            self.type("exit\r")
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - a shell that will not leave is killed
            self.proc.kill()
            self.proc.wait()
        os.close(self.main)
