"""Shell completion: the committed scripts are the generated ones, and a real
bash sourcing completions/mreg.bash gets names, versions, stages and fields
from a real registry, one short `mreg` process per TAB."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_completions  # noqa: E402
from shellpty import PtyShell  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_committed_scripts_are_the_generated_ones():
    fresh = generate_completions.scripts()
    assert set(fresh) == {"mreg.bash", "_mreg", "mreg.fish"}
    if os.environ.get("MREG_UPDATE_GENERATED"):
        generate_completions.main([])
    for name, content in fresh.items():
        committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
        assert committed == content, f"completions/{name} is stale: run python scripts/generate_completions.py"


@pytest.mark.parametrize("shell, name", [("bash", "mreg.bash"), ("zsh", "_mreg"), ("fish", "mreg.fish")])
def test_show_completion_prints_the_committed_script(mreg, shell, name):
    # What `mreg --install-completion` installs is what `--show-completion` prints.
    r = mreg("--show-completion", shell, env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
    assert r.out.strip() == "\n".join(l for l in committed.splitlines() if l != generate_completions.HEADER).strip()


def test_install_completion_writes_the_bash_script(mreg, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    mreg("--install-completion", "bash", env={"HOME": str(home), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    installed = (home / ".bash_completions" / "mreg.sh").read_text()
    assert "complete -o default -F _mreg_completion mreg" in installed
    assert "source" in (home / ".bashrc").read_text()


@pytest.fixture
def shim(tmp_path) -> Path:
    """A `mreg` on PATH that runs this checkout with this interpreter."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "mreg"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mreg "$@"\n')
    script.chmod(0o755)
    return folder


@pytest.fixture
def models(mreg, project):
    (project / "m.bin").write_bytes(b"weights")
    mreg("register", "sentiment", "m.bin", "-m", "accuracy=0.9", "-q")
    mreg("register", "sentiment", "m.bin", "-m", "f1=0.8", "-t", "team=nlp", "-q")
    mreg("register", "sentence", "m.bin", "-q")
    mreg("register", "fraud/xgb", "m.bin", "-q")
    mreg("promote", "sentiment@1.0.0", "--to", "production", "-q")
    return project


class Bash:
    """An interactive bash on a pty with completions/mreg.bash sourced, as a user has it."""

    def __init__(self, shell: PtyShell):
        self.shell = shell
        shell.run('printf "%s" "$COMP_WORDBREAKS" > "$OUT/breaks"')
        # bash-completion takes '@' out of COMP_WORDBREAKS; plain bash has it.
        self.breaks = (shell.out / "breaks").read_text()

    def tab(self, line: str) -> tuple[str, list[str]]:
        """Type `line`, press TAB: (the line readline then holds, the COMPREPLY it was given as whole words).

        readline replaces only the end of the last word, from its last
        COMP_WORDBREAKS character on (from just after it, except for '@'),
        so COMPREPLY holds that end: it is put back together with the rest.
        """
        reply = self.shell.out / "reply"
        reply.unlink(missing_ok=True)
        after = self.shell.tab(line, "\x14")
        word = line.split(" ")[-1]
        at = max(word.rfind(c) for c in self.breaks if c not in " \t\n")
        kept = word[: at + (at >= 0 and word[at] != "@")] if at >= 0 else ""
        got = reply.read_text().splitlines() if reply.exists() else []
        return after, [kept + w for w in got]

    def __call__(self, line: str) -> list[str]:
        return self.tab(line)[1]

    def run(self, command: str) -> None:
        self.shell.run(command)


def _bash(shim: Path, cwd: Path, tmp_path: Path, *, with_bash_completion: bool) -> PtyShell:
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "PS1": "$ ", "TERM": "dumb",
           "HISTFILE": "/dev/null", "INPUTRC": "/dev/null"}
    shell = PtyShell(["bash", "--norc", "--noprofile", "-i"], cwd, env, tmp_path / "bash-out")
    if with_bash_completion:
        shell.run(f"source {BASH_COMPLETION}")
    shell.run(f"source {ROOT / 'completions' / 'mreg.bash'}")
    # The real function runs as bash calls it; the wrapper only keeps what it put in COMPREPLY.
    shell.run("eval \"$(declare -f _mreg_completion | sed '1s/_mreg_completion/_mreg_completion_real/')\"")
    shell.run("_mreg_completion() { _mreg_completion_real \"$@\"; for w in \"${COMPREPLY[@]}\"; do printf '%s\\n' \"$w\"; done > \"$OUT/reply\"; }")
    shell.run("""bind -x '"\\C-t": printf "%s" "$READLINE_LINE" > "$OUT/line.tmp"; mv "$OUT/line.tmp" "$OUT/line"'""")
    shell.run("bind 'set bell-style none'")
    return shell


BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


@pytest.fixture(params=["plain", "bash-completion"])
def bash(request, shim, models, tmp_path):
    """bash as started with no rc file, and as a Debian user has it (bash-completion loaded first)."""
    if request.param == "bash-completion" and not BASH_COMPLETION.exists():
        pytest.skip("bash-completion is not installed (CI installs it)")
    shell = _bash(shim, models, tmp_path, with_bash_completion=request.param == "bash-completion")
    try:
        yield Bash(shell)
    finally:
        shell.close()


def test_bash_completes_commands_and_options(bash):
    assert {"register", "promote", "diff", "search", "gc"} <= set(bash("mreg "))
    assert "ls" not in bash("mreg ")  # hidden alias
    assert bash.tab("mreg pro") == ("mreg promote ", ["promote"])
    assert {"--to", "--reason", "--json", "--repo"} <= set(bash("mreg promote --"))


def test_bash_completes_model_names(bash):
    assert bash("mreg promote se") == ["sentence", "sentiment"]
    assert bash.tab("mreg show fr") == ("mreg show fraud/xgb ", ["fraud/xgb"])
    assert bash.tab("mreg show fraud/") == ("mreg show fraud/xgb ", ["fraud/xgb"])
    assert bash("mreg rollback sent") == ["sentence", "sentiment"]


def test_bash_completes_versions_and_stages_after_at(bash):
    # Whether or not COMP_WORDBREAKS holds '@', the line ends up right.
    line, got = bash.tab("mreg get sentiment@")
    assert got == ["sentiment@1.0.1", "sentiment@1.0.0", "sentiment@latest", "sentiment@development",
                   "sentiment@production"]
    assert line == "mreg get sentiment@"
    assert bash.tab("mreg get sentiment@1.") == ("mreg get sentiment@1.0.", ["sentiment@1.0.1", "sentiment@1.0.0"])
    assert bash.tab("mreg get sentiment@pro") == ("mreg get sentiment@production ", ["sentiment@production"])
    assert bash.tab("mreg diff sentiment@1.0.0 sentiment@pro") == \
        ("mreg diff sentiment@1.0.0 sentiment@production ", ["sentiment@production"])
    assert bash.tab("mreg history sentiment@1.0.") == ("mreg history sentiment@1.0.",
                                                       ["sentiment@1.0.1", "sentiment@1.0.0"])
    assert bash.tab("mreg show fraud/xgb@") == ("mreg show fraud/xgb@",
                                                ["fraud/xgb@1.0.0", "fraud/xgb@latest", "fraud/xgb@development"])
    assert bash.tab("mreg show fraud/xgb@l") == ("mreg show fraud/xgb@latest ", ["fraud/xgb@latest"])
    assert bash("mreg get nosuch@") == []


def test_bash_completes_environments_and_export_formats(bash, mreg, models):
    mreg("deploy", "sentiment@1.0.0", "--env", "prod", "-q")
    mreg("deploy", "sentence@1.0.0", "--env", "eu-west", "-q")
    with open(models / ".mreg" / "config.toml", "a") as handle:
        handle.write('\n[environments.shadow]\nstages = ["staging"]\n')
    assert bash("mreg deploy sentiment@1.0.1 --env ") == ["eu-west", "prod", "shadow"]
    assert bash("mreg deployments --env ") == ["eu-west", "prod", "shadow"]
    assert bash("mreg undeploy sentence@1.0.0 --env e") == ["eu-west"]
    assert bash("mreg deployments sentiment --format k") == ["kserve"]


def test_bash_completes_stages_after_a_reference_and_sort_fields(bash):
    # The words after `name@version` are counted as the command counts them.
    stages = bash("mreg transition sentiment@1.0.1 ")
    assert {"development", "staging", "production", "archived"} <= set(stages)
    assert "m.bin" not in stages  # stages, not the file names bash offers when the command gave nothing
    assert bash.tab("mreg transition sentiment@1.0.1 st") == ("mreg transition sentiment@1.0.1 staging ", ["staging"])
    assert bash("mreg promote sentiment@1.0.1 --to pro") == ["production"]
    assert bash("mreg search --sort met") == ["metrics.accuracy", "metrics.f1"]
    assert bash("mreg search --sort tags.") == ["tags.team"]
    assert "created_at" in bash("mreg search --sort cr")


def test_the_registry_is_found_as_the_command_would_find_it(bash, models, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bash.run(f"cd {elsewhere}")
    # Outside the project nothing is offered (and nothing is printed)...
    assert bash("mreg promote se") == []
    # ...unless --repo (after the command or before it, as `--repo PATH` or `--repo=PATH`) or MREG_REPO names it.
    assert bash(f"mreg get --repo {models} sentiment@1.0.1") == ["sentiment@1.0.1"]
    assert bash(f"mreg --repo {models} show se") == ["sentence", "sentiment"]
    assert bash(f"mreg --repo {models} get ") == ["fraud/xgb", "sentence", "sentiment"]
    assert bash(f"mreg --repo={models} get sentiment@1.0.") == ["sentiment@1.0.1", "sentiment@1.0.0"]
    assert bash.tab(f"mreg --repo={models} rm ") == (f"mreg --repo={models} rm ", ["fraud/xgb", "sentence",
                                                                                   "sentiment"])
    assert bash.tab(f"mreg get --repo={models} fr") == (f"mreg get --repo={models} fraud/xgb ", ["fraud/xgb"])
    bash.run(f"export MREG_REPO={models}")
    assert bash("mreg show se") == ["sentence", "sentiment"]
    bash.run("unset MREG_REPO")
    # From a subfolder, the nearest .mreg/ upward.
    sub = models / "deep" / "er"
    sub.mkdir(parents=True)
    bash.run(f"cd {sub}")
    assert bash("mreg show se") == ["sentence", "sentiment"]


def test_a_tab_reads_only_the_index(bash, models):
    # With the object store gone entirely, versions still complete: a TAB
    # touches the index (and config) and nothing else.
    objects = models / ".mreg" / "objects"
    objects.rename(models / "objects-away")
    try:
        assert bash("mreg get sentiment@1") == ["sentiment@1.0.1", "sentiment@1.0.0"]
    finally:
        (models / "objects-away").rename(objects)


@pytest.fixture
def zsh(shim, models, tmp_path):
    """An interactive zsh with compinit and completions/_mreg on its fpath."""
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (CI installs it)")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "PS1": "$ ", "TERM": "dumb",
           "HISTFILE": "/dev/null"}
    shell = PtyShell(["zsh", "-f", "-i"], models, env, tmp_path / "zsh-out")
    shell.run(f"fpath=({ROOT / 'completions'} $fpath); autoload -Uz compinit; compinit -u -D")
    shell.run("_dump() { print -rn -- \"$BUFFER\" > \"$OUT/line.tmp\"; mv \"$OUT/line.tmp\" \"$OUT/line\" }; "
              "zle -N _dump; bindkey '^T' _dump")
    try:
        yield shell
    finally:
        shell.close()


def test_zsh_completes_references_and_stages(zsh, models, tmp_path):
    assert zsh.tab("mreg get sentiment@l", "\x14") == "mreg get sentiment@latest "
    assert zsh.tab("mreg get sentiment@1.0.0", "\x14") == "mreg get sentiment@1.0.0 "
    assert zsh.tab("mreg show fraud/xgb@l", "\x14") == "mreg show fraud/xgb@latest "
    assert zsh.tab("mreg transition sentiment@1.0.1 st", "\x14") == "mreg transition sentiment@1.0.1 staging "
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    zsh.run(f"cd {elsewhere}")
    assert zsh.tab(f"mreg --repo={models} get fr", "\x14") == f"mreg --repo={models} get fraud/xgb "
    assert zsh.tab(f"mreg --repo {models} get sentiment@p", "\x14") == f"mreg --repo {models} get sentiment@production "
    # Several candidates: zsh lists them under the line.
    seen = len(zsh.screen)
    zsh.tab(f"mreg --repo {models} transition sentiment@1.0.1 ", "\t\x14")
    listing = bytes(zsh.screen[seen:]).decode(errors="replace")
    assert all(stage in listing for stage in ("development", "staging", "production", "archived"))


def test_fish_completes_references_and_stages(shim, models, tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (CI installs it)")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "XDG_CONFIG_HOME": str(tmp_path)}

    def complete(line: str, cwd: Path = models) -> list[str]:
        # fish's own splitting of the line, as at a TAB.
        script = f"source {ROOT / 'completions' / 'mreg.fish'}; complete --do-complete {shlex.quote(line)}"
        done = subprocess.run(["fish", "--no-config", "-c", script], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return [w.split("\t")[0] for w in done.stdout.splitlines()]

    assert complete("mreg get sentiment@") == ["sentiment@1.0.0", "sentiment@1.0.1", "sentiment@development",
                                               "sentiment@latest", "sentiment@production"]
    assert complete("mreg get sentiment@1.0.") == ["sentiment@1.0.0", "sentiment@1.0.1"]
    assert {"development", "staging", "production", "archived"} <= set(complete("mreg transition sentiment@1.0.1 "))
    assert complete("mreg show fraud/") == ["fraud/xgb"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert complete(f"mreg --repo={models} get fr", elsewhere) == ["fraud/xgb"]
    assert complete(f"mreg --repo {models} get sentiment@p", elsewhere) == ["sentiment@production"]


def test_bash_completes_aliases_after_at_and_after_alias_name(bash, mreg):
    mreg("alias", "sentiment@1.0.0", "champion", "-q")
    mreg("alias", "sentiment@1.0.1", "challenger", "-q")
    assert bash("mreg get sentiment@") == ["sentiment@1.0.1", "sentiment@1.0.0", "sentiment@latest",
                                           "sentiment@development", "sentiment@production",
                                           "sentiment@challenger", "sentiment@champion"]
    assert bash.tab("mreg show sentiment@cham") == ("mreg show sentiment@champion ", ["sentiment@champion"])
    assert bash("mreg promote sentiment@ch") == ["sentiment@challenger", "sentiment@champion"]
    assert bash("mreg alias sentiment ") == ["challenger", "champion"]  # the model's aliases, e.g. for --delete
    assert bash.tab("mreg alias sentiment@latest cha") == ("mreg alias sentiment@latest cha", ["challenger", "champion"])
    assert bash("mreg alias sentence ") == []
    assert bash("mreg alias sen") == ["sentence", "sentiment"]


def test_zsh_completes_aliases(zsh, mreg):
    mreg("alias", "sentiment@1.0.0", "champion", "-q")
    assert zsh.tab("mreg get sentiment@cha", "\x14") == "mreg get sentiment@champion "
    assert zsh.tab("mreg alias sentiment ch", "\x14") == "mreg alias sentiment champion "


def test_fish_completes_aliases(shim, models, mreg, tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (CI installs it)")
    mreg("alias", "sentiment@1.0.0", "champion", "-q")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "XDG_CONFIG_HOME": str(tmp_path)}
    for line, expected in (("mreg get sentiment@c", ["sentiment@champion"]), ("mreg alias sentiment c", ["champion"])):
        script = f"source {ROOT / 'completions' / 'mreg.fish'}; complete --do-complete {shlex.quote(line)}"
        done = subprocess.run(["fish", "--no-config", "-c", script], cwd=models, env=env, capture_output=True,
                              text=True, timeout=60)
        assert [w.split("\t")[0] for w in done.stdout.splitlines()] == expected, done.stderr
