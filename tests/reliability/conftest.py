"""Fixtures and the figures report of the reliability suite (helpers live in rel.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from rel import FIGURES, FULL


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.write_sep("-", f"reliability figures ({'full' if FULL else 'CI subset'})")
        for key in sorted(FIGURES):
            terminalreporter.write_line(f"{key}: {FIGURES[key]}")
        out = os.environ.get("MREG_FIGURES")
        if out:
            Path(out).write_text(json.dumps(FIGURES, indent=1, sort_keys=True) + "\n")


@pytest.fixture
def tmpfs(tmp_path):
    """A fresh small tmpfs (as root), or a skip where mounting is not permitted."""
    mounted = []

    def make(size="8m", name="fs") -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield make
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
