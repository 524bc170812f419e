"""User-level defaults, from `config.toml` in the user's config folder.

```toml
json = true          # print JSON by default, as if --json were given
lock_timeout = 60    # seconds to wait for the registry lock
```
The folder is platformdirs' user config dir for "mreg", or $MREG_CONFIG_DIR.
"""

from __future__ import annotations

import os
import stat
import sys
from functools import lru_cache

from mreg.errors import UsageError


def config_dir() -> str:
    override = os.environ.get("MREG_CONFIG_DIR")
    if override:
        return override
    if sys.platform.startswith("linux"):
        # platformdirs' Linux rule, without importing it on every command.
        base = os.environ.get("XDG_CONFIG_HOME", "")
        return os.path.join(base if base.strip() else os.path.expanduser("~/.config"), "mreg")
    from platformdirs import user_config_dir

    return user_config_dir("mreg")


_MAX_BYTES = 1 << 20


@lru_cache(maxsize=1)
def load() -> dict:
    path = os.path.join(config_dir(), "config.toml")
    from mreg.core.fsutil import kind_of, open_for_reading

    try:
        fd, info = open_for_reading(path)  # a FIFO there must not hang every command
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"cannot read user settings {path}: it is {kind_of(info.st_mode)}")
            raw = handle.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return {}  # the usual case: no TOML parser to import (~5 ms of every call)
    except OSError as exc:
        raise UsageError(f"cannot read user settings {path}: {exc}") from None
    if len(raw) > _MAX_BYTES:
        raise UsageError(f"cannot read user settings {path}: larger than {_MAX_BYTES} bytes")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(raw.decode())
    except ValueError as exc:  # TOMLDecodeError and UnicodeDecodeError are both ValueErrors
        raise UsageError(f"cannot read user settings {path}: {exc}") from None
    except RecursionError:
        raise UsageError(f"cannot read user settings {path}: nested too deeply") from None


def wants_json(flag: bool) -> bool:
    return flag or load().get("json") is True


def lock_timeout(option: float | None) -> float:
    if option is not None:
        if not option >= 0:  # also refuses nan
            raise UsageError("--lock-timeout must be 0 or more seconds")
        return option
    from mreg.core.lock import DEFAULT_TIMEOUT

    value = load().get("lock_timeout", DEFAULT_TIMEOUT)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else DEFAULT_TIMEOUT
