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


# The core's layers, lowest first; a module may import its own layer and those below it.
# A module not named here is a low-level module (layer 1); imports inside functions count.
LAYERS = (
    ("mreg.errors",),                # 0: the exceptions and their exit codes
    (),                              # 1: low-level modules: files, formats, parsing (every other core module)
    ("mreg.core.repo",),             # 2: the shared state: layout, config, store, lookup, the transaction
    ("mreg.core.ops",),              # 3: the operations, one module each
    # 4: the Registry facade, the Python API; direct.py wraps it to commit each write to a remote (--repo URL)
    ("mreg.core.registry", "mreg.core.direct"),
)
LOW_LEVEL = 1


def _layer(module: str) -> int | None:
    """The layer of a module of mreg's core (None outside it: the standard library, mreg.cli, ...)."""
    if not (module == "mreg.errors" or module == "mreg.core" or module.startswith("mreg.core.")):
        return None
    for number, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    return LOW_LEVEL


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _upward_imports(paths: list[Path], read=lambda path: path.read_text()) -> list[str]:
    offences = []
    for path in paths:
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own = _layer(name)
        for line, module in _imports_of(read(path), package):
            target = _layer(module)
            if target is not None and own is not None and target > own:
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line} (layer {own}) imports {module} (layer {target})")
    return offences


def _core_files() -> list[Path]:
    return sorted((PACKAGE / "core").rglob("*.py")) + [PACKAGE / "errors.py"]


def test_core_imports_point_down():
    assert _layer("mreg.core.ops.register") == 3 and _layer("mreg.core.store") == LOW_LEVEL
    assert _upward_imports(_core_files()) == []


def test_the_layer_check_catches_an_upward_import():
    # The check above is only as good as its reading of the tree: plant an upward
    # import (lazy, inside a function) in a low-level module and in an operation.
    planted = {PACKAGE / "core" / "store.py": "\ndef f():\n    from mreg.core.repo import Repo\n",
               PACKAGE / "core" / "ops" / "get.py": "\ndef f():\n    from ..registry import Registry\n",
               PACKAGE / "errors.py": "\nimport mreg.core.names\n"}
    offences = _upward_imports(list(planted), read=lambda path: path.read_text() + planted[path])
    found = {(o.split(":")[0], o.split(" imports ")[1].split(" ")[0]) for o in offences}
    assert found == {("mreg/core/store.py", "mreg.core.repo"), ("mreg/core/store.py", "mreg.core.repo.Repo"),
                     ("mreg/core/ops/get.py", "mreg.core.registry"),
                     ("mreg/core/ops/get.py", "mreg.core.registry.Registry"),
                     ("mreg/errors.py", "mreg.core.names")}


def test_the_import_scanner_catches_every_spelling():
    # The check above is only as good as the scanner: prove it sees each form.
    sample = ("import typer\nfrom rich.console import Console\nfrom mreg import cli\n"
              "from ...cli import output\nimport importlib\nimport os\n"
              "def f():\n    import click\n    importlib.import_module('mreg.cli.app')\n")
    found = {module for _, module in _imports_of(sample, "mreg.core.ops")}
    flagged = {m for m in found if _offends(m)}
    assert {"typer", "rich.console", "mreg.cli", "mreg.cli.output", "click", "mreg.cli.app"} <= flagged
    assert "os" in found and not _offends("os") and not _offends("mreg.core.cli_like") and not _offends("richer")


# What a command's body (mreg/cli/bodies/) may import of the command line: the typer-free
# modules that open the registry and draw the output. The fast path calls bodies without typer,
# so never typer or click, nor the declarations, the app or the options they are built from.
BODY_MAY_IMPORT = ("mreg.cli.bodies", "mreg.cli.output", "mreg.cli.settings", "mreg.cli.render", "mreg.cli.context",
                   "mreg.cli.complete", "mreg.cli.repo", "mreg.cli.bashline")


def _body_offends(module: str) -> bool:
    if module.split(".")[0] in ("typer", "click"):
        return True
    if module == "mreg.cli" or not module.startswith("mreg.cli."):
        return False
    return not any(module == allowed or module.startswith(allowed + ".") for allowed in BODY_MAY_IMPORT)


def _body_offences(paths: list[Path], read=lambda path: path.read_text()) -> list[str]:
    offences = []
    for path in paths:
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        offences += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
                     for line, module in _imports_of(read(path), package) if _body_offends(module)]
    return offences


def _body_files() -> list[Path]:
    return sorted((PACKAGE / "cli" / "bodies").glob("*.py"))


def test_command_bodies_never_import_typer_or_the_declarations():
    bodies = _body_files()
    assert {"lifecycle.py", "registering.py", "inspect.py", "diff.py", "lineage.py", "aliases.py",
            "approvals.py"} <= {path.name for path in bodies}
    assert _body_offences(bodies) == []


def test_the_body_check_catches_typer_and_the_declarations():
    # Planted, lazily too: each spelling that would pull typer into the fast path.
    body = PACKAGE / "cli" / "bodies" / "inspect.py"
    planted = ("\ndef f():\n    import typer\n    from mreg.cli import app\n    from ..commands import inspect\n"
               "    from mreg.cli.options import Json\n    from typer._click import exceptions\n")
    found = {o.split(" imports ")[1] for o in _body_offences([body], read=lambda path: planted)}
    assert {"typer", "mreg.cli.app", "mreg.cli.commands", "mreg.cli.commands.inspect", "mreg.cli.options",
            "typer._click"} <= found
    assert not _body_offends("mreg.cli") and not _body_offends("mreg.cli.render.show_diff")
    assert not _body_offends("mreg.core.ops.diff") and not _body_offends("rich.table")


def test_importing_every_command_body_loads_no_typer():
    # The check above reads each body's own imports; this one follows them all the way down.
    names = [_module_name(path) for path in _body_files() if path.name != "__init__.py"]
    modules = _fresh_modules("".join(f"import {name}\n" for name in names))
    assert set(names) <= modules
    assert {m for m in modules if _body_offends(m) or m.split(".")[0] == "rich"} == set()


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


def test_the_web_view_reads_the_core_and_nothing_imports_it():
    # mreg/web/ reads the registry through the core's Python API; it never imports the
    # command line, and only the site and ui commands import it (inside their bodies).
    web = sorted((PACKAGE / "web").rglob("*.py"))
    assert PACKAGE / "web" / "pages.py" in web
    offences = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
                for path in web for line, module in _imports(path) if _offends(module)]
    assert offences == []
    importers = sorted({str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py")
                        if not path.is_relative_to(PACKAGE / "web")
                        for _, module in _imports(path) if module == "mreg.web" or module.startswith("mreg.web.")})
    assert importers == ["mreg/cli/bodies/web.py"]
