"""Source hints (`cache/sources.json`): the digest a source file had when last stored."""

from __future__ import annotations

import json
import os

from mreg.core.cache.files import CACHE_FORMAT, read_file, write_cache
from mreg.core.layout import Layout

# Registering the same large file again should cost one hash, not a hash and a
# copy. A hint remembers the digest a source file had, keyed by its identity
# (device, inode, size, mtime, ctime), the way git's index remembers stat data.
# A hint is only ever a guess about whether to copy: the store hashes the
# bytes either way and uses an existing object only when the fresh digest
# names it, so a stale or forged hint costs time, never correctness.
SOURCES_FILE = "sources.json"
_SOURCES_MAX = 256


def _source_key(info: os.stat_result) -> str:
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _read_sources(path: str) -> dict:
    try:
        data = json.loads(read_file(path))
        entries = data.get("sources") if data.get("format") == CACHE_FORMAT else None
        return entries if isinstance(entries, dict) else {}
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}


def hinted_digest(layout: Layout, info: os.stat_result) -> str | None:
    """The hex digest this source file had when last stored, if a hint says so."""
    hexdigest = _read_sources(os.path.join(layout.cache, SOURCES_FILE)).get(_source_key(info))
    from mreg.core.schema import is_digest

    # The hint becomes a path in the store: nothing but 64 hex digits may reach it.
    return hexdigest if isinstance(hexdigest, str) and is_digest("sha256:" + hexdigest) else None


def remember_source(layout: Layout, info: os.stat_result, hexdigest: str) -> None:
    """Record a source's digest (best effort: concurrent writers may drop each other's hints)."""
    path = os.path.join(layout.cache, SOURCES_FILE)
    entries = _read_sources(path)
    key = _source_key(info)
    entries.pop(key, None)
    entries[key] = hexdigest
    while len(entries) > _SOURCES_MAX:
        entries.pop(next(iter(entries)))
    write_cache(path, entries, key="sources")
