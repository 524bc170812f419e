"""Search columns (`cache/search/NAME.json`): the fields a filter reads, per model, without decoding whole documents."""

from __future__ import annotations

import json
import os
import time

from mreg.core.cache.files import CACHE_FORMAT, RACY_NS, file_identity, read_file, read_index, replace_file
from mreg.core.layout import Layout
from mreg.core.version import FILTER_FIELDS, SECTIONS

# `search` over every version needs only the fields its filter names. Each
# model gets one file, `search/NAME.json` ('/' in NAME written as '~', which no
# name can hold): a JSON header line, then one JSON array per field (a column
# with a value per version, null where the version lacks it, which the filter
# reads as missing anyway), then each version's whole document on its own line.
# A search decodes the header, the columns it needs, and the documents that
# match; a model whose index changed is re-derived and its file rewritten.
SEARCH_DIR = "search"


def _search_path(layout: Layout, name: str) -> str:
    return os.path.join(layout.cache, SEARCH_DIR, name.replace("/", "~") + ".json")


def _encode_search(name: str, identity: list[int], derived_ns: int, model: dict) -> tuple[bytes, dict, list[bytes]]:
    """The file's bytes, plus the columns and document lines it holds (to use at once)."""
    records = list(model["versions"].values())
    columns: dict[str, list] = {field: [] for field in FILTER_FIELDS}
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
        for field in FILTER_FIELDS:
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
        data = read_file(path)
        cut = data.index(b"\n")
        header = json.loads(data[:cut])
        if (header.get("format") == CACHE_FORMAT and header.get("name") == name
                and header.get("identity") == file_identity(info) and isinstance(header.get("derived_ns"), int)
                and header["derived_ns"] - info.st_mtime_ns > RACY_NS):
            return _SearchEntry(int(header["count"]), body=data[cut + 1:], where=header["columns"],
                                docs=header["docs"])
    except (OSError, ValueError, AttributeError, TypeError, KeyError, RecursionError):
        pass
    read = read_index(layout, name)
    if read is None:
        return None
    identity, model = read
    encoded, columns, lines = _encode_search(name, identity, now, model)
    replace_file(path, encoded)
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
