"""Rendering the registry's documents for people (JSON goes out untouched)."""

from __future__ import annotations

import json as jsonlib

from mreg.cli import output, settings


def print_version(doc: dict, *, json: bool, quiet: bool, verb: str) -> None:
    """The version after a change: JSON, or one line saying what happened."""
    if settings.wants_json(json):
        output.print_json(doc)
    elif not quiet:
        print(f"{verb} {doc['name']}@{doc['version']} ({doc['stage']})")


def _pairs(prefix: str, table: dict | None) -> list[tuple[str, object]]:
    if not table:
        return []
    rows = []
    for key, value in table.items():
        shown = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else jsonlib.dumps(value, ensure_ascii=False)
        rows.append((f"{prefix}.{key}", shown))
    return rows


def show_version(doc: dict) -> None:
    """Everything about one version: a panel at a terminal, `key: value` lines when piped."""
    terminal = output.stdout_is_terminal()
    size = output.human_size(doc.get("size")) if terminal else doc.get("size")
    pairs: list[tuple[str, object]] = [
        ("name", doc["name"]),
        ("version", doc["version"]),
        ("stage", doc["stage"]),
        ("digest", doc["digest"]),
        ("kind", doc["kind"]),
        ("size", size),
        ("files", doc.get("files")),
        ("created", output.ago(doc.get("created_at"))),
        ("created_by", doc.get("created_by")),
    ]
    for key in ("description", "framework", "format"):
        if doc.get(key):
            pairs.append((key, doc[key]))
    if doc.get("parameters") is not None:
        count = doc["parameters"]
        pairs.append(("parameters", f"{output.human_count(count)} ({count:,})" if terminal else count))
    if doc.get("dtypes"):
        pairs.append(("dtypes", ", ".join(doc["dtypes"])))
    pairs += _pairs("metrics", doc.get("metrics"))
    pairs += _pairs("params", doc.get("params"))
    pairs += _pairs("tags", doc.get("tags"))
    for key, dataset in (doc.get("datasets") or {}).items():
        text = dataset.get("uri", "")
        if dataset.get("digest"):
            text += f" ({dataset['digest'][:19]}…)" if terminal else f" {dataset['digest']}"
        pairs.append((f"datasets.{key}", text))
    pairs += _pairs("lineage", doc.get("lineage"))
    pairs += _pairs("metadata", doc.get("metadata"))
    output.key_values(f"{doc['name']}@{doc['version']}", pairs)
