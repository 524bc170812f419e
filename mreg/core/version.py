"""The version: the document mreg keeps for each registered version of a model.

A model's index (`index.py`) holds each version's fields under its number;
adding the model's name gives the version as `mreg show --json` prints it and
the Python API returns it (docs/json.md). This module is the one definition of
those fields: `Version` below, for type checkers, and the tuples derived from
it that every reader and writer uses (register writes them, `schema.py` checks
them, the filter language and the search cache read them, diff compares them).
`tests/test_layers.py` checks that the tuples and `Version` agree.

Nothing is imported at run time: reading a version stays a dict lookup.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported on the read path
    from typing import TypedDict

    class Version(TypedDict):
        """One version, as the index stores it (the JSON document adds `name` first)."""

        version: str
        stage: str
        digest: str  # sha256:<64 hex digits>
        kind: str  # "file" or "directory"
        size: int
        files: int
        created_at: str
        created_by: str
        description: str
        framework: str
        metrics: dict[str, int | float]
        params: dict[str, object]
        tags: dict[str, str]
        datasets: dict[str, dict]
        format: str | None
        parameters: int | None
        dtypes: list[str]
        filename: str
        lineage: dict[str, object]
        derived_from: list[str]  # "NAME@VERSION" of each version it was derived from (register --from)
        metadata: dict[str, object]
        stage_changed_at: str


# Every field of a stored version, in the order register writes them (the order of `Version`).
FIELDS = (
    "version", "stage", "digest", "kind", "size", "files", "created_at", "created_by", "description",
    "framework", "metrics", "params", "tags", "datasets", "format", "parameters", "dtypes", "filename",
    "lineage", "derived_from", "metadata", "stage_changed_at",
)
# The fields that hold mappings; a filter names one entry, as in `metrics.accuracy`.
SECTIONS = ("metrics", "params", "tags", "datasets")
# The fields a filter or `--sort` names directly (and the search cache keeps as
# columns), in the order the help lists them; `name` is the document's.
FILTER_FIELDS = ("name", "version", "stage", "created_at", "created_by", "description", "framework", "size",
                 "files", "kind", "digest", "format", "parameters")
# The metadata a user sets and `update` changes (their size is limited together).
METADATA_FIELDS = ("description", "framework", "metrics", "params", "tags", "datasets", "metadata")
# Free text a user sets (empty when not given); `update --unset` empties them.
TEXT_FIELDS = ("description", "framework")
# What schema.py demands of every stored version; every other field is optional but typed.
REQUIRED_TEXT = ("stage", "created_by")
COUNT_FIELDS = ("size", "files")
OPTIONAL_TEXT = ("description", "framework", "filename", "format")
# What diff compares one by one, and what it shows of each side.
DIFF_FIELDS = ("stage", "kind", "digest", "size", "files", "format", "parameters", "framework", "description")
DIFF_SUMMARY = ("name", "version", "stage", "digest", "kind", "size", "files", "created_at")

# What `show` adds after the stored fields, read from the model's index rather than the version's
# record: the aliases pointing at the version (a list, empty when none).
SHOWN_FIELDS = ("aliases",)


def document(name: str, version: dict) -> dict:
    """The JSON document of one version (docs/json.md): the model's name, then the stored fields."""
    return {"name": name, **version}
