"""Layers point down: the core never imports the command line, typer or rich,
and `import mreg` stays cheap."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mreg

PACKAGE = Path(mreg.__file__).parent
FORBIDDEN = ("typer", "rich", "click", "mreg.cli")


def _imports(path: Path) -> list[tuple[int, str]]:
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    return _imports_of(path.read_text(), package)


def _imports_of(source: str, package: str) -> list[tuple[int, str]]:
    """Every module some source imports, at any depth (inside functions too), resolved to absolute names."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from mreg import cli` imports mreg.cli as well.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def _offends(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN)


def test_core_modules_never_import_the_cli_typer_or_rich():
    core = sorted((PACKAGE / "core").rglob("*.py"))
    assert len(core) > 10 and PACKAGE / "core" / "ops" / "register.py" in core
    offences = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
                for path in core for line, module in _imports(path) if _offends(module)]
    assert offences == []


def test_the_import_scanner_catches_every_spelling():
    # The check above is only as good as the scanner: prove it sees each form.
    sample = ("import typer\nfrom rich.console import Console\nfrom mreg import cli\n"
              "from ...cli import output\nimport importlib\nimport os\n"
              "def f():\n    import click\n    importlib.import_module('mreg.cli.app')\n")
    found = {module for _, module in _imports_of(sample, "mreg.core.ops")}
    flagged = {m for m in found if _offends(m)}
    assert {"typer", "rich.console", "mreg.cli", "mreg.cli.output", "click", "mreg.cli.app"} <= flagged
    assert "os" in found and not _offends("os") and not _offends("mreg.core.cli_like") and not _offends("richer")


def _fresh_modules(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in ("typer", "rich", "click") or m.startswith("mreg.cli")}


def test_import_mreg_loads_no_typer_or_rich():
    modules = _fresh_modules("import mreg")
    assert "mreg" in modules
    assert _heavy(modules) == set()


def test_the_python_api_works_without_typer_or_rich(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"weights")
    code = (
        "import mreg\n"
        f"r = mreg.init({str(tmp_path)!r})\n"
        f"r.register('m', {str(tmp_path / 'f.bin')!r})\n"
        "assert r.show('m@latest')['version'] == '1.0.0'\n"
        "assert r.verify()['ok']\n"
        "r.list(); r.versions('m')\n"
        f"r.get('m', {str(tmp_path / 'out.bin')!r})\n"
    )
    modules = _fresh_modules(code)
    assert _heavy(modules) == set()
    assert (tmp_path / "out.bin").read_bytes() == b"weights"


def test_console_script_and_python_m_print_the_version():
    script = shutil.which("mreg", path=os.path.dirname(sys.executable))
    assert script is not None, "the `mreg` console script is not installed beside this Python"
    for command in ([script, "--version"], [sys.executable, "-m", "mreg", "--version"]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"mreg {mreg.__version__}"
        assert done.stderr == ""


def test_version_matches_the_package_metadata():
    from importlib.metadata import version

    assert mreg.__version__ == version("mreg")
