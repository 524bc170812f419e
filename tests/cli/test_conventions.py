"""Conventions every command follows: init, finding the registry, user defaults, JSON, quiet,
colour, one-line errors with stable exit codes, and clean interruption."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from mregtest import Mreg, as_at_a_terminal, run_on_pty

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SPEC_TRANSITIONS = {
    "development": ["testing", "archived"],
    "testing": ["development", "staging", "archived"],
    "staging": ["testing", "production", "archived"],
    "production": ["staging", "deprecated"],
    "deprecated": ["archived"],
    "archived": [],
}


# --- init ----------------------------------------------------------------------
def test_init_writes_the_format_and_the_default_lifecycle(tmp_path):
    run = Mreg(tmp_path)
    r = run("init", "proj/nested")
    assert "proj/nested" in r.out
    config = tomllib.loads((tmp_path / "proj" / "nested" / ".mreg" / "config.toml").read_text())
    assert config["format"] == 1
    lifecycle = config["lifecycle"]
    assert {k: sorted(v) for k, v in lifecycle["transitions"].items()} == {
        k: sorted(v) for k, v in SPEC_TRANSITIONS.items()}
    assert lifecycle["initial"] == "development"
    assert lifecycle["promotion"] == ["development", "testing", "staging", "production"]
    assert set(lifecycle["stages"]) == set(SPEC_TRANSITIONS)
    assert lifecycle["exclusive"] == ["production"]


def test_init_is_harmless_to_repeat_and_keeps_an_edited_config(mreg, project):
    config = project / ".mreg" / "config.toml"
    edited = config.read_text().replace('deprecated = [\n    "archived",\n]', 'deprecated = [\n    "archived",\n    "staging",\n]')
    assert edited != config.read_text()
    config.write_text(edited)
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin")
    mreg("init")
    mreg("init", str(project))
    assert config.read_text() == edited
    assert mreg("list", "--json").json[0]["name"] == "m"
    doc = mreg("init", "--json").json
    assert doc["registry"] == str(project / ".mreg")
    assert mreg("init", "-q").out == ""


def test_init_refuses_to_paper_over_a_damaged_config(mreg, project):
    config = project / ".mreg" / "config.toml"
    config.write_text("format = [oops\n")
    r = mreg("init", expect=3)
    assert "config.toml" in r.err
    assert config.read_text() == "format = [oops\n"


# --- finding the registry ---------------------------------------------------------
def test_registry_discovery_order(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"x")
    other = tmp_path / "other"
    Mreg(tmp_path)("init", "other")
    nested = project / "a" / "b" / "c"
    nested.mkdir(parents=True)
    # Nearest .mreg/ upward from a nested folder.
    mreg("register", "here", "../../../m.bin", cwd=nested)
    # MREG_REPO beats the folder; --repo beats MREG_REPO, before or after the arguments.
    mreg("register", "env", str(project / "m.bin"), cwd=nested, env={"MREG_REPO": str(other)})
    mreg("register", "flag", "m.bin", "--repo", str(other), env={"MREG_REPO": str(project / "a")})
    mreg("--repo", str(other), "register", "lead", "m.bin")
    mreg("register", "dotmreg", "m.bin", "--repo", str(other / ".mreg"))
    outside = tmp_path / "outside"
    outside.mkdir()
    assert [r["name"] for r in Mreg(outside)("list", "--repo", str(other), "--json").json] == [
        "dotmreg", "env", "flag", "lead"]
    assert [r["name"] for r in mreg("list", "--json", cwd=nested).json] == ["here"]


def test_no_registry_is_exit_1_with_a_hint_to_run_init(tmp_path):
    run = Mreg(tmp_path)
    for args in (["list"], ["show", "m"], ["register", "m", "x"], ["verify"], ["get", "m"]):
        r = run(*args, expect=1)
        lines = r.err.strip().splitlines()
        assert lines[0].startswith("mreg: error: not inside an mreg registry")
        assert lines[1].startswith("hint:") and "mreg init" in lines[1]
    r = run("list", "--repo", str(tmp_path / "missing"), expect=1)
    assert "no mreg registry at" in r.err and "mreg init" in r.err
    run("list", env={"MREG_REPO": str(tmp_path / "missing")}, expect=1)
    assert not (tmp_path / "missing").exists() and not (tmp_path / ".mreg").exists()


def test_every_command_but_init_takes_repo_and_json():
    from mreg.cli.app import command

    group = command()
    names = group.list_commands(None)
    assert {"init", "register", "show", "list", "ls", "get", "verify"} <= set(names)
    for name in names:
        options = {opt for param in group.get_command(None, name).params for opt in param.opts}
        if name == "clone":  # like init, it makes a new registry (in DIR) rather than opening one
            assert "--json" in options
            continue
        assert "--repo" in options, name
        assert "--json" in options, name


# --- user defaults -------------------------------------------------------------------
def test_user_config_can_make_json_the_default(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"x")
    config_dir = tmp_path / "userconfig"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("json = true\n")
    env = {"MREG_CONFIG_DIR": str(config_dir)}
    assert mreg("register", "m", "m.bin", env=env).json["version"] == "1.0.0"
    assert mreg("list", env=env).json[0]["name"] == "m"
    assert mreg("show", "m@1.0.0", env=env).json["name"] == "m"
    assert "\t" in mreg("list").out  # without the file: plain lines
    (config_dir / "config.toml").write_text("json = [broken\n")
    r = mreg("list", env=env, expect=2)
    assert str(config_dir / "config.toml") in r.err


# --- output conventions ---------------------------------------------------------------
def test_json_is_exactly_one_document_on_stdout(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    calls = [
        ("register", "m", "m.bin", "--json"),
        ("show", "m@1.0.0", "--json"),
        ("show", "m", "--json"),
        ("list", "--json"),
        ("get", "m", "-o", "out.bin", "--json"),
        ("get", "m", "--path", "--json"),
        ("verify", "--json"),
        ("history", "--json"),
        ("init", "--json"),
    ]
    for args in calls:
        r = mreg(*args)
        json.loads(r.out)  # one document, nothing before or after
        assert r.err == "", args


def test_quiet_prints_nothing(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    for args in (("register", "m", "m.bin", "-q"), ("get", "m", "-o", "o.bin", "-q"), ("verify", "-q"),
                 ("init", "-q"), ("register", "m", "m.bin", "--quiet")):
        r = mreg(*args)
        assert (r.out, r.err) == ("", ""), args


def _run_in_terminal(args: list[str], cwd, env: dict) -> bytes:
    """Run mreg with stdout and stderr on a pseudo-terminal; return everything it wrote."""
    run = run_on_pty(args, cwd, stream="both", env=env, timeout=60)
    assert run.code == 0, run.drawn
    return run.drawn


_COLOUR = re.compile(rb"\x1b\[[0-9;]*(3[0-7]|38;[0-9;]+|9[0-7])m")


def test_no_color_is_honoured_at_a_terminal(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin", "--stage", "production")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="200")
    coloured = _run_in_terminal(["show", "m"], project, env)
    assert b"production" in coloured and _COLOUR.search(coloured), "a terminal without NO_COLOR gets colour"
    plain = _run_in_terminal(["show", "m"], project, dict(env, NO_COLOR="1"))
    assert b"production" in plain and not _COLOUR.search(plain)


def test_piped_output_has_no_escape_codes_even_with_force_of_habit(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin", "--stage", "production")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    for args in (("list",), ("show", "m"), ("show", "m@1.0.0"), ("history",)):
        out = mreg(*args, env=env).out
        assert "\x1b" not in out and "…" not in out, args


# --- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("show", "nosuch"), 1),
        (("register", "Bad", "m.bin"), 2),
        (("register", "m"), 2),
        (("register", "m", "m.bin", "--bogus-option"), 2),
        (("nosuchcommand",), 2),
        (("get", "m@1.0.0", "--lock-timeout", "1"), 2),
    ],
)
def test_errors_are_one_line_and_an_optional_hint(mreg, project, args, code):
    (project / "m.bin").write_bytes(b"x")
    r = mreg(*args, expect=code)
    lines = r.err.rstrip("\n").split("\n")
    assert lines[0].startswith("mreg: error: ")
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: "))
    assert r.out == "" and "Traceback" not in r.err


def test_bare_mreg_shows_the_help(tmp_path):
    r = Mreg(tmp_path)(expect=2)
    assert "Usage: mreg" in r.err and "register" in r.err and "Traceback" not in r.err


_INJECT = (
    "import sys\n"
    "import mreg.core.registry as registry\n"
    "def broken(self):\n"
    "    raise RuntimeError('injected fault')\n"
    "registry.Registry.list = broken\n"
    "from mreg.cli.main import main\n"
    "main(['list'])\n"
)


def test_an_internal_error_is_one_line_unless_mreg_debug(project):
    # Fault injection, not a mock: the real entry point meets an exception it does not know.
    env = {k: v for k, v in os.environ.items() if k != "MREG_DEBUG"}
    done = subprocess.run([sys.executable, "-c", _INJECT], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "mreg: error: internal error: RuntimeError: injected fault"
    assert "MREG_DEBUG=1" in lines[1] and len(lines) == 2
    done = subprocess.run([sys.executable, "-c", _INJECT], cwd=project, env=dict(env, MREG_DEBUG="1"),
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "Traceback (most recent call last)" in done.stderr and "injected fault" in done.stderr


# --- interruption -----------------------------------------------------------------------
def _interrupt_a_long_register(project, signum: int) -> subprocess.CompletedProcess:
    big = project / "huge.bin"
    with open(big, "wb") as handle:
        handle.truncate(8 << 30)  # sparse: 8 GiB to read, far more than the signal gives it time for
    intake = project / ".mreg" / "intake"
    process = subprocess.Popen([sys.executable, "-m", "mreg", "register", "huge", "huge.bin"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                               preexec_fn=as_at_a_terminal)
    try:
        # Wait until the copy is under way: a temporary file in intake/ that is growing.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            temps = [os.path.join(d, f) for d, _, files in os.walk(intake) for f in files if f.startswith("tmp-")]
            if temps and os.path.getsize(temps[0]) > (8 << 20):
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        else:
            pytest.fail("register never started copying")
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize(("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_a_long_register_cleans_up(mreg, project, signum, code, word):
    done = _interrupt_a_long_register(project, signum)
    assert done.returncode == code, done.stderr
    assert f"mreg: error: {word}" in done.stderr and "Traceback" not in done.stderr
    assert os.listdir(project / ".mreg" / "intake") == []
    assert os.listdir(project / ".mreg" / "models") == []
    assert not (project / ".mreg" / "lock.json").exists()
    # The lock is free at once, and nothing half-registered is visible.
    (project / "small.bin").write_bytes(b"small")
    mreg("register", "small", "small.bin", "--lock-timeout", "0")
    assert [r["name"] for r in mreg("list", "--json").json] == ["small"]
    mreg("verify")


def test_init_honours_repo_and_mreg_repo_like_every_other_command(tmp_path):
    run = Mreg(tmp_path)
    run("init", "--repo", "a")
    run("--repo", "b", "init")
    run("init", env={"MREG_REPO": str(tmp_path / "c")})
    for folder in "abc":
        assert (tmp_path / folder / ".mreg" / "config.toml").is_file(), folder
    assert not (tmp_path / ".mreg").exists()
    # An explicit PATH wins over the variable; PATH and a different --repo is a usage error.
    run("init", "d", env={"MREG_REPO": str(tmp_path / "e")})
    assert (tmp_path / "d" / ".mreg").is_dir() and not (tmp_path / "e").exists()
    r = run("init", "f", "--repo", "g", expect=2)
    assert r.err.startswith("mreg: error:") and not (tmp_path / "f").exists() and not (tmp_path / "g").exists()


def test_every_command_takes_quiet_so_a_script_can_test_a_reference_by_exit_status(mreg, project):
    from mreg.cli.app import command

    group = command()
    for name in group.list_commands(None):
        options = {opt for param in group.get_command(None, name).params for opt in param.opts}
        assert "-q" in options and "--quiet" in options, name
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin", "-q")
    mreg("register", "m", "m.bin", "-q")
    for args in (("show", "m@latest"), ("show", "m"), ("list",), ("ls",), ("history",), ("search", "version > 0.1.0"),
                 ("diff", "m@1.0.0", "m@1.0.1")):
        r = mreg(*args, "-q")
        assert (r.out, r.err) == ("", ""), args
    r = mreg("show", "m@production", "-q", expect=1)
    assert r.out == "" and r.err.startswith("mreg: error:")


def test_a_lock_timeout_that_is_not_a_number_of_seconds_is_a_usage_error(mreg, project):
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin")
    for value in ("nan", "-1", "-inf"):
        r = mreg("transition", "m@1.0.0", "testing", "--lock-timeout", value, expect=2)
        assert r.err.startswith("mreg: error: --lock-timeout"), value
    assert mreg("show", "m@1.0.0", "--json").json["stage"] == "development"


def test_an_error_naming_a_path_with_a_newline_is_still_one_line(mreg, project):
    r = mreg("register", "m", "no\nsuch", expect=1)
    assert r.err == "mreg: error: no such file or directory: no\\nsuch\n"
    (project / "m.bin").write_bytes(b"x")
    mreg("register", "m", "m.bin")
    (project / "x\ny").write_bytes(b"a file where get would need a folder")
    r = mreg("get", "m", "-o", "x\ny/z", expect=1)
    assert len(r.err.splitlines()) == 1 and r.err.startswith("mreg: error: cannot write x\\ny/z")
    # A filter's hint is two lines on purpose: the filter and the caret.
    assert mreg("search", "metrics.a >> 1", expect=2).err.splitlines()[1:] == ["hint: metrics.a >> 1",
                                                                              "hint:            ^"]


def test_a_deleted_current_folder_is_named_as_the_problem(tmp_path, project):
    gone = tmp_path / "gone"
    gone.mkdir()
    probe = ("import os, subprocess, sys\n"
             f"os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})\n"
             "done = subprocess.run([sys.executable, '-m', 'mreg', 'list'], capture_output=True, text=True)\n"
             "print(done.returncode); print(done.stderr, end='')\n"
             f"done = subprocess.run([sys.executable, '-m', 'mreg', 'list', '--repo', {str(project)!r}])\n"
             "print(done.returncode)\n")
    # Folders only: an editable install's finder hook is a relative entry, which the deleted folder would break.
    folders = [p for p in sys.path if os.path.isabs(p)]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(folders))).stdout.splitlines()
    assert out[0] == "1" and out[1].startswith("mreg: error: the current folder no longer exists")
    assert out[-1] == "0"
