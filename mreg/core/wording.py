"""How an error names one of the caller's parameters.

The operations speak the Python API's words (`bump`, `force=True`); the
command line gives its own (`--bump`, `--force`) through `speak` as it
starts, so each user is told about what they typed.
"""

from __future__ import annotations

# A Python caller's spelling where it is not the parameter's bare name.
_API = {
    "force": "force=True",
    "all_versions": "all_versions=True",
    "follow_symlinks": "follow_symlinks=True",
    "path": "object_path()",
    "lock_timeout": "registry.lock_timeout",
    "repo": "a path to mreg.open()",
    "init": "mreg.init(PATH)",
    "split": "split=",
    "traffic": "traffic=",
    "rollback": "rollback=True",
    "override": "override=True",
    "delete": "unalias(NAME, ALIAS)",
}
_spoken: dict[str, str] = {}


def name(parameter: str) -> str:
    """`parameter` as the caller wrote it."""
    return _spoken.get(parameter) or _API.get(parameter, parameter)


def speak(names: dict[str, str]) -> None:
    """Name parameters as `names` says from now on (an empty dict: the Python API's words again)."""
    _spoken.clear()
    _spoken.update(names)
