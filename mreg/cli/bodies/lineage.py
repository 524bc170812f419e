"""lineage."""

from __future__ import annotations

from mreg.cli import output, settings
from mreg.cli.context import open_registry


def lineage(ref: str, depth: int | None = None, json: bool = False, quiet: bool = False,
            repo: str | None = None) -> None:
    tree = open_registry(repo).lineage(ref, depth=depth)
    if settings.wants_json(json):
        output.print_json(tree)
    elif not quiet:
        print_tree(tree)


def print_tree(tree: dict) -> None:
    """The version on one line, then its ancestors and its descendants, indented one level per step."""
    terminal = output.stdout_is_terminal()
    lines = [describe(tree, terminal)]
    for direction in ("ancestors", "descendants"):
        if tree[direction]:
            lines.append(f"{direction}:")
            _branch(tree[direction], direction, 1, terminal, lines)
    print("\n".join(lines))


def _branch(nodes: list[dict], direction: str, level: int, terminal: bool, lines: list[str]) -> None:
    for node in nodes:
        lines.append("  " * level + describe(node, terminal))
        _branch(node.get(direction, []), direction, level + 1, terminal, lines)
        if node.get("truncated"):
            lines.append("  " * (level + 1) + "… (more beyond --depth)")


def describe(node: dict, terminal: bool) -> str:
    """`NAME@VERSION  STAGE  git COMMIT  data KEY=DIGEST (URI), …` (digests and commits shortened at a terminal)."""
    label = f"{node['name']}@{node['version']}"
    if node.get("removed"):
        return output.one_line(f"{label}  (removed)")
    parts = [label, node["stage"]]
    commit = node.get("git_commit")
    if isinstance(commit, str) and commit:
        parts.append(f"git {commit[:12] if terminal else commit}")
    datasets = [_dataset(key, dataset, terminal) for key, dataset in (node.get("datasets") or {}).items()]
    if datasets:
        parts.append("data " + ", ".join(datasets))
    return output.one_line("  ".join(str(part) for part in parts))


def _dataset(key: str, dataset: object, terminal: bool) -> str:
    """`KEY=DIGEST (URI)` for a hashed dataset, `KEY=URI` for one only recorded."""
    digest = dataset.get("digest") if isinstance(dataset, dict) else None
    uri = dataset.get("uri") if isinstance(dataset, dict) else dataset
    if isinstance(digest, str) and digest:
        shown = output.short_digest(digest) if terminal else digest
        return f"{key}={shown}" + (f" ({uri})" if isinstance(uri, str) and uri else "")
    return f"{key}={uri}"
