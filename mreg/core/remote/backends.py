"""What the storage backends share: key checks, options, the optional imports.

Keys are built by the remote protocol, partly from names read on the remote;
every backend checks them here before they reach a server, so that no key can
climb out of the remote's root (`..`) or address something odd (an empty
segment, a backslash, a control character).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mreg.errors import IntegrityError, UsageError

CHUNK = 1 << 20  # bytes moved per read when streaming
# Uploads in progress live under names that start with this; they are never
# listed and no key may use it.
TEMPORARY = ".mreg-tmp"


def check_key(key: str) -> str:
    """`key` if it is a plain relative `/`-separated path (and not an upload in progress); IntegrityError otherwise."""
    parts = key.split("/")
    if (
        not key
        or any(part in ("", ".", "..") or part.startswith(TEMPORARY) for part in parts)
        or "\\" in key
        or any(ord(c) < 32 or c == "\x7f" for c in key)
    ):
        raise IntegrityError(f"refusing the remote key {key!r}: not a plain relative path")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty (everything) or a checked key ending in `/`."""
    if prefix == "":
        return prefix
    if not prefix.endswith("/"):
        raise IntegrityError(f"refusing the remote prefix {prefix!r}: it must end in '/'")
    check_key(prefix[:-1])
    return prefix


def take_options(url: str, options: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """The options as given, after refusing (exit 2) any this backend does not know."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for {url}",
            hint="options here: " + ", ".join(known),
        )
    return dict(options)


def need(module: str, extra: str) -> ModuleType:
    """Import an optional backend library, or say which extra installs it (exit 2)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"this remote needs the {extra} extra ({exc.name or module} is not installed)",
            hint=f"pip install 'mreg[{extra}]'",
        ) from None
