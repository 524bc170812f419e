"""The version is defined once (mreg/core/version.py): its field tuples agree
with the typed definition, and register writes exactly those fields."""

from __future__ import annotations

import ast
from pathlib import Path

import mreg
from mreg.core import version as version_mod

SOURCE = Path(version_mod.__file__)


def _typed_fields() -> tuple[str, ...]:
    """The fields of the `Version` TypedDict, read from the source (it exists only for type checkers)."""
    tree = ast.parse(SOURCE.read_text())
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == "Version"]
    assert len(classes) == 1
    return tuple(item.target.id for item in classes[0].body if isinstance(item, ast.AnnAssign))


def test_the_field_tuples_are_the_typed_definition_s():
    fields = version_mod.FIELDS
    assert _typed_fields() == fields
    assert len(set(fields)) == len(fields)
    document_fields = ("name", *fields)
    for derived in (version_mod.SECTIONS, version_mod.FILTER_FIELDS, version_mod.METADATA_FIELDS,
                    version_mod.TEXT_FIELDS, version_mod.REQUIRED_TEXT, version_mod.COUNT_FIELDS,
                    version_mod.OPTIONAL_TEXT, version_mod.DIFF_FIELDS, version_mod.DIFF_SUMMARY):
        assert set(derived) <= set(document_fields), derived


def test_every_reader_uses_the_one_definition():
    from mreg.core import metadata, query, schema
    from mreg.core.cache import search
    from mreg.core.ops import diff

    assert query.SIMPLE_FIELDS is version_mod.FILTER_FIELDS
    assert search.FILTER_FIELDS is version_mod.FILTER_FIELDS
    assert metadata.SECTIONS is version_mod.SECTIONS and schema._SECTIONS is version_mod.SECTIONS
    assert diff.FIELDS is version_mod.DIFF_FIELDS


def test_register_writes_every_field_in_order(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"weights")
    registry = mreg.init(str(tmp_path))
    written = registry.register("m", str(tmp_path / "f.bin"), metrics=["accuracy=0.9"])
    assert tuple(written) == ("name", *version_mod.FIELDS)
    assert tuple(registry.show("m@latest")) == ("name", *version_mod.FIELDS, *version_mod.SHOWN_FIELDS)
