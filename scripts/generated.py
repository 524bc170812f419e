"""What the generate_* scripts share: write a generated file, or report it stale."""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str] | None, doc: str, script: str, files: dict[str, str]) -> int:
    """Write each {path relative to the project: content} that differs; with --check, exit 1 instead."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    args = parser.parse_args(argv)
    stale = []
    for relative, content in files.items():
        path = os.path.join(ROOT, relative)
        try:
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if current == content:
            continue
        stale.append(relative)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(content)
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run python scripts/{script})", file=sys.stderr)
        return 1
    for relative in stale:
        print(f"wrote {relative}")
    return 0
