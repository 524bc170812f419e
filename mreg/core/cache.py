"""A derived read cache under `.mreg/cache/`, for questions about every model at once.

Three kinds of file live here: per-model summaries for `list` (`models.json`),
per-model search columns (`search/`), and source hints for the store
(`sources.json`). The summaries are described here; the hints and the search
columns in their own sections below.

The index files stay the only source of truth. The cache holds, for each
model, a small summary derived from its `_index.json` (what `mreg list`
shows), tagged with that file's identity when it was read: inode, size,
mtime and ctime. A reader re-derives every entry whose file no longer has
that identity, drops entries of models that are gone, and rewrites the cache
if anything changed. Index writers never touch it, so a write still costs the
same at any registry size, and a register costs the next `list` one index file.

Every index write replaces the file by a rename, so its identity changes.
One corner is left, the one git calls "racily clean": a file replaced twice
within one timestamp tick, with a recycled inode and the same size. An entry
is therefore trusted only if the file was already older than `_RACY_NS`
when the entry was derived; younger files are re-read until they age.

The cache can be deleted at any time; a damaged or unknown one is ignored
and rebuilt. It is written without fsync: after a crash it is either whole
(each entry still checks itself against its file) or unreadable (rebuilt).
"""

from __future__ import annotations

import json
import os
import time

from mreg.core.fsutil import read_regular_file, real_folders
from mreg.core.layout import Layout
from mreg.errors import IntegrityError
from mreg.core.metadata import SECTIONS

CACHE_FORMAT = 1
SUMMARY_FILE = "models.json"
_RACY_NS = 2_000_000_000


def summarize(model: dict) -> dict | None:
    """What `list` needs of one model; None for a model without versions."""
    from mreg.core.semver import Version

    versions = model["versions"]
    if not versions:
        return None
    first_in_stage: dict[str, str] = {}
    for version, record in versions.items():
        first_in_stage.setdefault(record["stage"], version)
    return {
        "versions": len(versions),
        "latest": max(versions, key=Version.parse),
        "first_in_stage": first_in_stage,
        "updated_at": max(max(r.get("stage_changed_at") or r["created_at"], r["created_at"]) for r in versions.values()),
    }


def _well_formed(summary: object) -> bool:
    from mreg.core.schema import summary_fault

    return summary_fault(summary) is None


def _identity(info: os.stat_result) -> list[int]:
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _read(path: str) -> bytes:
    """A cache file's bytes; never through a link or from a FIFO (either counts as damage: rebuilt)."""
    try:
        return read_regular_file(path, "cache file")
    except IntegrityError as exc:
        raise ValueError(exc.message) from None


def _read_cache(path: str) -> dict:
    try:
        data = json.loads(_read(path))
        if data.get("format") != CACHE_FORMAT or not isinstance(data.get("models"), dict):
            return {}
        return data["models"]
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}


def _replace_file(path: str, data: bytes) -> None:
    """Replace a cache file; silently give up where the registry is not writable."""
    temp = f"{path}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    try:
        # cache/ and cache/search/ are real folders or nothing is written: a
        # planted link would put these files outside the registry.
        root, _, inside = path.rpartition(f"{os.sep}cache{os.sep}")
        real_folders(root, "cache", *inside.split(os.sep)[:-1], create=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except (OSError, IntegrityError):
        try:
            os.unlink(temp)
        except OSError:
            pass


def _write_cache(path: str, entries: dict, key: str = "models") -> None:
    data = {"format": CACHE_FORMAT, key: entries}
    _replace_file(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _read_index(layout: Layout, name: str) -> tuple[list[int], dict] | None:
    """(identity, model) of an index read from one open file, so the two always agree; None if the model is gone."""
    from mreg.core import index as index_mod

    path = layout.index_path(name)
    read = index_mod.read_index_file(layout, name)
    if read is None:
        return None
    return _identity(read[0]), index_mod.parse_model(read[1], path, name)


def _derive(layout: Layout, name: str) -> tuple[list[int], dict | None] | None:
    """(identity, summary) of a model's index; None if the model is gone."""
    read = _read_index(layout, name)
    if read is None:
        return None
    identity, model = read
    return identity, summarize(model)


def model_summaries(layout: Layout, names: list[str]) -> list[tuple[str, dict]]:
    """(name, summary) of every model in `names` that has versions, in that order.

    Raises IntegrityError for a damaged index, exactly as reading it would.
    """
    path = os.path.join(layout.cache, SUMMARY_FILE)
    cached = _read_cache(path)
    entries: dict = {}
    changed = len(cached) != len(names)
    now = time.time_ns()
    result = []
    for name in names:
        entry = cached.get(name)
        summary = None
        fresh = False
        if isinstance(entry, dict):
            try:
                info = os.stat(layout.index_path(name))
            except (FileNotFoundError, NotADirectoryError):
                changed = True
                continue
            identity = _identity(info)
            if (entry.get("identity") == identity and isinstance(entry.get("derived_ns"), int)
                    and entry["derived_ns"] - info.st_mtime_ns > _RACY_NS
                    and "summary" in entry and _well_formed(entry["summary"])):
                summary = entry["summary"]
                fresh = True
        if not fresh:
            derived = _derive(layout, name)
            changed = True
            if derived is None:
                continue
            identity, summary = derived
            entry = {"identity": identity, "derived_ns": now, "summary": summary}
        entries[name] = entry
        if summary is not None:
            result.append((name, summary))
    if changed:
        _write_cache(path, entries)
    return result


# --- source hints ------------------------------------------------------------------
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
        data = json.loads(_read(path))
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
    _write_cache(path, entries, key="sources")


# --- search columns ------------------------------------------------------------------
# `search` over every version needs only the fields its filter names. Each
# model gets one file, `search/NAME.json` ('/' in NAME written as '~', which no
# name can hold): a JSON header line, then one JSON array per field (a column
# with a value per version, null where the version lacks it, which the filter
# reads as missing anyway), then each version's whole document on its own line.
# A search decodes the header, the columns it needs, and the documents that
# match; a model whose index changed is re-derived and its file rewritten.
SEARCH_DIR = "search"
_SIMPLE = ("name", "version", "stage", "created_at", "created_by", "description", "framework", "size", "files",
           "kind", "digest", "format", "parameters")


def _search_path(layout: Layout, name: str) -> str:
    return os.path.join(layout.cache, SEARCH_DIR, name.replace("/", "~") + ".json")


def _encode_search(name: str, identity: list[int], derived_ns: int, model: dict) -> tuple[bytes, dict, list[bytes]]:
    """The file's bytes, plus the columns and document lines it holds (to use at once)."""
    records = list(model["versions"].values())
    columns: dict[str, list] = {field: [] for field in _SIMPLE}
    keys: dict[str, None] = {}
    for record in records:
        for section in SECTIONS:
            entries = record.get(section)
            if isinstance(entries, dict):
                for key in entries:
                    keys.setdefault(f"{section}.{key}", None)
    for column in keys:
        columns[column] = []
    for record in records:
        doc = {"name": name, **record}
        for field in _SIMPLE:
            columns[field].append(doc.get(field))
        for column in keys:
            section, key = column.split(".", 1)
            entries = record.get(section)
            columns[column].append(entries.get(key) if isinstance(entries, dict) else None)
    body = bytearray()
    where = {}
    for column, values in columns.items():
        data = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
        where[column] = [len(body), len(data)]
        body += data + b"\n"
    lines = [json.dumps({"name": name, **r}, ensure_ascii=False, separators=(",", ":")).encode() for r in records]
    docs = b"\n".join(lines)
    header = {"format": CACHE_FORMAT, "name": name, "identity": identity, "derived_ns": derived_ns,
              "count": len(records), "columns": where, "docs": [len(body), len(docs)]}
    encoded = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" + bytes(body) + docs
    return encoded, columns, lines


class _SearchEntry:
    """One model's search columns, read from its cache file or derived from its index."""

    __slots__ = ("count", "_columns", "_body", "_where", "_docs", "_lines")

    def __init__(self, count: int, columns: dict | None = None, lines: list[bytes] | None = None,
                 body: bytes = b"", where: dict | None = None, docs: list[int] | None = None) -> None:
        self.count = count
        self._columns = columns or {}
        self._lines = lines
        self._body = body
        self._where = where or {}
        self._docs = docs

    def column(self, name: str) -> list:
        if name in self._columns:
            return self._columns[name]
        spot = self._where.get(name)
        values = json.loads(self._body[spot[0]:spot[0] + spot[1]]) if spot else [None] * self.count
        if not isinstance(values, list) or len(values) != self.count:
            raise ValueError("damaged column")
        self._columns[name] = values
        return values

    def document(self, i: int) -> dict:
        if self._lines is None:
            start, length = self._docs
            lines = self._body[start:start + length].split(b"\n") if self.count else []
            if len(lines) != self.count:
                raise ValueError("damaged documents")
            self._lines = lines
        from mreg.core.schema import version_fault

        doc = json.loads(self._lines[i])
        # A document goes out to the caller as if read from the index: it must pass the same checks.
        if (not isinstance(doc, dict) or not isinstance(doc.get("version"), str) or not isinstance(doc.get("name"), str)
                or version_fault(doc["version"], {k: v for k, v in doc.items() if k != "name"})):
            raise ValueError("damaged document")
        return doc


def _load_search(layout: Layout, name: str, now: int, trust: bool = True) -> _SearchEntry | None:
    """A model's search entry, from its cache file when that still matches the index."""
    index_path = layout.index_path(name)
    path = _search_path(layout, name)
    try:
        if not trust:
            raise ValueError("re-derive")
        info = os.stat(index_path)
        data = _read(path)
        cut = data.index(b"\n")
        header = json.loads(data[:cut])
        if (header.get("format") == CACHE_FORMAT and header.get("name") == name
                and header.get("identity") == _identity(info) and isinstance(header.get("derived_ns"), int)
                and header["derived_ns"] - info.st_mtime_ns > _RACY_NS):
            return _SearchEntry(int(header["count"]), body=data[cut + 1:], where=header["columns"],
                                docs=header["docs"])
    except (OSError, ValueError, AttributeError, TypeError, KeyError, RecursionError):
        pass
    read = _read_index(layout, name)
    if read is None:
        return None
    identity, model = read
    encoded, columns, lines = _encode_search(name, identity, now, model)
    _replace_file(path, encoded)
    return _SearchEntry(len(lines), columns=columns, lines=lines)


def matching_documents(layout: Layout, names: list[str], fields: list[str], predicate) -> list[dict]:
    """The whole document of every version, in `names` order, whose fields satisfy `predicate`.

    `predicate` sees a partial document: `name` and the `fields` listed
    (`metrics.K` and the like as nested mappings), nothing else.
    """
    from mreg.core.query import parse_field

    simple, nested = [], []
    for field in dict.fromkeys(fields):
        path = parse_field(field)
        if path.section is None:
            simple.append(path.name)
        else:
            nested.append((path.section, path.key))
    now = time.time_ns()

    def matches(name: str, entry: _SearchEntry) -> list[dict]:
        plain = [(field, entry.column(field)) for field in simple if field != "name"]
        mapped = [(section, key, entry.column(f"{section}.{key}")) for section, key in nested]
        hits = []
        for i in range(entry.count):
            doc: dict = {"name": name}
            for field, values in plain:
                doc[field] = values[i]
            for section, key, values in mapped:
                doc.setdefault(section, {})[key] = values[i]
            if predicate(doc):
                hits.append(i)
        docs = [entry.document(i) for i in hits]
        if any(doc["name"] != name for doc in docs):
            raise ValueError("a document of another model")
        return docs

    found = []
    for name in names:
        entry = _load_search(layout, name, now)
        if entry is None:
            continue
        try:
            found += matches(name, entry)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            # A damaged cache file: derive this model afresh from its index.
            entry = _load_search(layout, name, now, trust=False)
            if entry is not None:
                found += matches(name, entry)
    return found
