"""Every command of the grammar answers on the fast path exactly as under typer, without importing it.

Each command has lines here (a new command must add its own: a test fails
until it does), among them one its body answers and one usage error. Each
line runs twice through the real entry point, once as usual and once with
`_MREG_TYPER_ONLY=1`, each time in a fresh copy of one registry at the same
path, with the clock stopped (MREG_NOW): stdout, stderr and the exit code
must agree byte for byte. A small runner reports the modules the process
loaded, which shows whether the fast path or typer answered. Only the
first line of each exit code runs unless MREG_FULL=1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mreg.cli.grammar import COMMANDS

# The entry point, reporting the modules it loaded to the file MODULES_OUT names.
_RUN = r"""
import atexit, os, sys
def report():
    with open(os.environ["MODULES_OUT"], "w") as handle:
        handle.write("\n".join(sorted(sys.modules)))
atexit.register(report)
from mreg.cli.main import main
main(sys.argv[1:])
"""
NOW = "2026-11-01T12:00Z"
# Every line under MREG_FULL=1; else each command's first line of each exit code.
FULL = os.environ.get("MREG_FULL") == "1"
PORT = "{port}"  # a free port, found when the registry is built
# Commands that run until they are stopped: stopped with SIGTERM once they serve, their exit is 143.
SERVES = {"ui"}

# (exit code, words) for each command.
CASES: dict[str, list[tuple[int, list[str]]]] = {
    "init": [(0, ["init", "fresh"]), (0, ["init", "--json"]), (2, ["init", "a", "b"])],
    "register": [(0, ["register", "sentiment", "model.bin", "-m", "accuracy=0.95", "--json"]),
                 (0, ["register", "team/new", "model.bin", "-t", "team=nlp", "--from=sentiment@1.0.0", "-b", "minor"]),
                 (2, ["register", "new"]), (2, ["register", "new", "model.bin", "--lock-timeout", "soon"])],
    "update": [(0, ["update", "sentiment@1.0.0", "-m", "f1=0.5", "--unset", "metrics.accuracy", "-r", "fix"]),
               (0, ["update", "segmenter@latest", "-d", "a segmenter", "--json"]), (2, ["update"])],
    "transition": [(0, ["transition", "sentiment@1.0.2", "archived", "--reason", "old"]),
                   (1, ["transition", "sentiment@1.0.2", "production"]), (2, ["transition", "sentiment@1.0.2"])],
    "promote": [(0, ["promote", "sentiment@1.0.2", "--json"]), (1, ["promote", "sentiment@1.0.2", "--to", "staging"]),
                (2, ["promote"]), (2, ["promote", "sentiment@1.0.2", "--lock-timeout", "x"])],
    "rollback": [(0, ["rollback", "sentiment", "--reason", "regression"]), (2, ["rollback"])],
    "check": [(0, ["check", "sentiment@1.0.1", "metrics.accuracy > 0.5"]),
              (1, ["check", "sentiment@1.0.2", "metrics.accuracy > @production.metrics.accuracy + 1", "--json"]),
              (2, ["check", "sentiment@1.0.1"])],
    "alias": [(0, ["alias", "sentiment@1.0.2", "canary", "-r", "try"]), (0, ["alias", "sentiment", "--json"]),
              (2, ["alias"])],
    "approve": [(0, ["approve", "segmenter@1.0.0", "--stage", "staging", "--reason", "ok"]), (2, ["approve"])],
    "reject": [(0, ["reject", "segmenter@1.0.0", "-s", "staging", "--reason", "no", "--json"]),
               (2, ["reject", "a@1", "b@1"])],
    "approvals": [(0, ["approvals", "sentiment@1.0.1"]), (0, ["approvals", "segmenter@1.0.0", "--json"]),
                  (2, ["approvals"])],
    "show": [(0, ["show", "sentiment@production"]), (0, ["show", "--json", "sentiment"]),
             (1, ["show", "nope@1.0.0", "--json"]), (2, ["show"]), (2, ["show", "sentiment", "--jsn"])],
    "list": [(0, ["list"]), (0, ["list", "--json"]), (2, ["list", "extra"])],
    "ls": [(0, ["ls", "-q"]), (2, ["ls", "-qj"])],
    "get": [(0, ["get", "sentiment@production", "-o", "got.bin"]), (0, ["get", "sentiment@1.0.0", "--path"]),
            (2, ["get"])],
    "history": [(0, ["history", "sentiment", "-n", "3"]), (0, ["history", "--action", "promote", "-a", "rollback", "--json"]),
                (2, ["history", "-n", "two"])],
    "search": [(0, ["search", "metrics.accuracy > 0.905", "--sort", "metrics.accuracy", "--desc"]),
               (0, ["search", "--name", "seg*", "--json"]), (2, ["search", "metrics.accuracy >"]),
               (2, ["search", "--limit", "x"])],
    "diff": [(0, ["diff", "sentiment@1.0.0", "sentiment@1.0.2"]), (0, ["diff", "sentiment@1.0.0", "segmenter", "--json"]),
             (2, ["diff", "sentiment@1.0.0"])],
    "lineage": [(0, ["lineage", "team/derived@1.0.0"]), (0, ["lineage", "sentiment@1.0.1", "--depth", "1", "--json"]),
                (2, ["lineage", "sentiment@1.0.1", "--depth", "one"])],
    "deploy": [(0, ["deploy", "sentiment@1.0.2", "--env", "prod", "--traffic", "10"]),
               (0, ["deploy", "sentiment", "-e", "prod", "--split", "1.0.1=70,1.0.2=30", "--json"]),
               (2, ["deploy", "sentiment@1.0.2"])],
    "undeploy": [(0, ["undeploy", "sentiment@1.0.1", "-e", "prod"]), (2, ["undeploy", "sentiment@1.0.1"])],
    "deployments": [(0, ["deployments"]), (0, ["deployments", "sentiment", "--json"]), (2, ["deployments", "a", "b"])],
    "rm": [(0, ["rm", "sentiment@1.0.0", "--json"]), (0, ["rm", "segmenter", "--all", "--yes"]),
           (1, ["rm", "segmenter", "--all"]), (2, ["rm"])],
    "gc": [(0, ["gc", "--dry-run"]), (0, ["gc", "--grace", "0", "--json"]), (2, ["gc", "-n"]), (2, ["gc", "extra"])],
    "verify": [(0, ["verify"]), (0, ["verify", "sentiment@1.0.1", "--json"]), (2, ["verify", "a", "b"])],
    "site": [(0, ["site", "-o", "out"]), (0, ["site", "sentiment", "segmenter", "--output=out", "--json"]),
             (2, ["site"]), (2, ["site", "sentiment"])],
    "ui": [(143, ["ui", "--port", PORT]), (2, ["ui", "--port", "eighty"])],
    "remote": [(0, ["remote", "list"]), (0, ["remote", "add", "backup", "../backup"]), (2, ["remote"])],
    "push": [(0, ["push"]), (0, ["push", "origin", "sentiment", "--json"]), (2, ["push", "--lock-timeout", "x"])],
    "pull": [(0, ["pull"]), (0, ["pull", "origin", "segmenter"]), (2, ["pull", "--lock-timeout", "x"])],
    "clone": [(0, ["clone", "../remote", "../copy"]), (0, ["clone", "../remote", "../lazy", "--lazy", "--json"]),
              (2, ["clone"])],
}


@dataclass
class Run:
    code: int
    out: str
    err: str
    modules: set


class Registries:
    """One registry built once, copied afresh to the same path before every run."""

    def __init__(self, root: Path):
        self.work = root / "work"
        self.template = root / "template"
        self.project = self.work / "project"
        self.project.mkdir(parents=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = str(probe.getsockname()[1])
        self.env = dict(os.environ, MREG_CONFIG_DIR=str(root / "config"), MREG_USER="tester@example.com",
                        MREG_NOW=NOW, NO_COLOR="1", PYTHONHASHSEED="0", COLUMNS="100",
                        GIT_CONFIG_GLOBAL=str(root / "gitconfig"), GIT_CONFIG_NOSYSTEM="1")
        for name in ("MREG_REPO", "MREG_DEBUG", "_MREG_TYPER_ONLY", "_MREG_COMPLETE"):
            self.env.pop(name, None)
        self._build()
        shutil.copytree(self.work, self.template, symlinks=True)

    def _build(self) -> None:
        """sentiment 1.0.0-1.0.2 (1.0.1 in production after 1.0.0, alias champion, deployed to prod),
        segmenter 1.0.0, team/derived from sentiment@1.0.1; staging takes one approval; pushed to origin."""
        artifact = self.project / "model.bin"
        steps = [["init", "-q"]]
        for i in range(3):
            steps.append(["register", "sentiment", "model.bin", "-q", "-m", f"accuracy=0.9{i}"])
        steps += [["register", "segmenter", "model.bin", "-q"],
                  ["register", "team/derived", "model.bin", "-q", "--from", "sentiment@1.0.1"],
                  ["promote", "sentiment@1.0.0", "--to", "production", "--reason", "first", "-q"],
                  ["promote", "sentiment@1.0.1", "--to", "production", "--reason", "better", "-q"],
                  ["alias", "sentiment@1.0.1", "champion", "-q"],
                  ["deploy", "sentiment@1.0.1", "--env", "prod", "-q"],
                  ["remote", "add", "origin", "../remote", "-q"], ["push", "-q"]]
        for i, words in enumerate(steps):
            artifact.write_bytes(f"weights {i}".encode())
            done = self.run(words)
            assert done.code == 0, (words, done)
        with open(self.project / ".mreg" / "config.toml", "a", encoding="utf-8") as config:
            config.write("\n[policy.stages.staging]\napprovals = 1\nself_approval = true\n")

    def restore(self) -> None:
        shutil.rmtree(self.work)
        shutil.copytree(self.template, self.work, symlinks=True)

    def run(self, words: list[str], *, typer_only: bool = False, env: dict | None = None,
            serve: bool = False) -> Run:
        report = self.work.parent / "modules.txt"
        full = dict(self.env, MODULES_OUT=str(report), **(env or {}))
        if typer_only:
            full["_MREG_TYPER_ONLY"] = "1"
        words = [w.replace(PORT, self.port) for w in words]
        proc = subprocess.Popen([sys.executable, "-c", _RUN, *words], cwd=self.project, env=full, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if serve:
            self._stop_once_served(proc)
        out, err = proc.communicate(timeout=60)
        modules = set(report.read_text().split("\n")) if report.exists() else set()
        if report.exists():
            report.unlink()
        return Run(proc.returncode, out, err, modules)

    def _stop_once_served(self, proc) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", int(self.port)), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)


@pytest.fixture(scope="module")
def registries(tmp_path_factory) -> Registries:
    return Registries(tmp_path_factory.mktemp("fast-path"))


def _timeless(run: Run) -> Run:
    """The run with the times the clock (MREG_NOW) does not stop masked: gc reports when it ran."""
    import re

    def mask(text: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
                      lambda m: m[0] if m[0].startswith(NOW[:16]) else "<time>", text)

    return Run(run.code, mask(run.out), mask(run.err), run.modules)


def _typer_modules(modules: set) -> set:
    return {m for m in modules if m == "typer" or m.startswith(("typer.", "click"))}


def _tab(name: str) -> tuple[str, int]:
    """A bash TAB on the command's first argument that completes, else on the command's name."""
    arguments = COMMANDS[name]["arguments"]
    for position, (_, _, _, completer) in enumerate(arguments):
        if completer is not None:
            before = ["sentiment@1.0.1"] * position
            return " ".join(["mreg", name, *before, ""]), 2 + position
    return f"mreg {name[:1]}", 1


def _tab_env(name: str) -> dict:
    line, cword = _tab(name)
    return {"_MREG_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}


def test_every_command_has_lines():
    # A new command adds its lines to CASES: one its body answers and one usage error at least.
    assert sorted(CASES) == sorted(COMMANDS)
    for name, lines in CASES.items():
        codes = [code for code, _ in lines]
        assert 2 in codes, f"{name}: no usage error among its lines"
        assert (143 if name in SERVES else 0) in codes, f"{name}: no line its body answers"
        assert all(words[0] == name for _, words in lines), name


def _lines(name: str) -> list[tuple[int, list[str]]]:
    lines = CASES[name]
    return lines if FULL else [line for i, line in enumerate(lines) if line[0] not in [c for c, _ in lines[:i]]]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_answers_as_typer_does(registries, name):
    assert name in CASES, f"no command lines for `mreg {name}`: add them to CASES"
    for code, words in _lines(name):
        runs = []
        for typer_only in (False, True):
            registries.restore()
            runs.append(registries.run(words, typer_only=typer_only, serve=name in SERVES and code != 2))
        fast, slow = (_timeless(run) for run in runs)
        assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err), words
        assert fast.code == code, (words, fast)
        assert "Traceback" not in fast.err and "internal error" not in fast.err, (words, fast)
        assert _typer_modules(slow.modules), "the typer-only run did not use typer"
        if code != 2:
            answered_by_typer = _typer_modules(fast.modules) | ({"mreg.cli.app"} & fast.modules)
            assert not answered_by_typer, f"`mreg {' '.join(words)}` was answered by typer"
    tab = _tab_env(name)
    fast, slow = registries.run([], env=tab), registries.run([], typer_only=True, env=tab)
    assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err), tab
    assert fast.code == 0 and fast.out, tab


@pytest.mark.parametrize("name", list(COMMANDS))
def test_fast_path_imports_neither_typer_nor_click(registries, name):
    code, words = next((code, words) for code, words in CASES[name] if code in (0, 143))
    registries.restore()
    run = registries.run(words, serve=name in SERVES)
    assert run.code == code, run
    assert run.modules and not _typer_modules(run.modules), f"`mreg {' '.join(words)}` imported typer"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_tab_imports_neither_typer_nor_click(registries, name):
    run = registries.run([], env=_tab_env(name))
    assert run.code == 0 and run.out, (_tab(name), run)
    assert run.modules and not _typer_modules(run.modules), f"a TAB on `{_tab(name)[0]}` imported typer"
