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
    if output.stdout_is_terminal():
        _version_panel(doc)
        return
    pairs: list[tuple[str, object]] = [
        ("name", doc["name"]),
        ("version", doc["version"]),
        ("stage", doc["stage"]),
        *([("aliases", ", ".join(doc["aliases"]))] if doc.get("aliases") else []),
        ("digest", doc["digest"]),
        ("kind", doc["kind"]),
        ("size", doc.get("size")),
        ("files", doc.get("files")),
        ("created", doc.get("created_at")),
        ("created_by", doc.get("created_by")),
    ]
    for key in ("description", "framework", "format"):
        if doc.get(key):
            pairs.append((key, doc[key]))
    if doc.get("parameters") is not None:
        pairs.append(("parameters", doc["parameters"]))
    if doc.get("dtypes") and isinstance(doc["dtypes"], list):
        pairs.append(("dtypes", ", ".join(map(str, doc["dtypes"]))))
    pairs += _pairs("metrics", doc.get("metrics"))
    pairs += _pairs("params", doc.get("params"))
    pairs += _pairs("tags", doc.get("tags"))
    for key, dataset in (doc.get("datasets") or {}).items():
        # A dataset object from a metadata file holds whatever types its author wrote.
        pairs.append((f"datasets.{key}", _dataset_text(dataset, False)))
    pairs += _pairs("lineage", doc.get("lineage"))
    if doc.get("derived_from"):
        pairs.append(("derived_from", ", ".join(map(str, doc["derived_from"]))))
    pairs += _pairs("metadata", doc.get("metadata"))
    output.key_values(f"{doc['name']}@{doc['version']}", pairs)


def _version_panel(doc: dict) -> None:
    """The terminal view: facts first, then metrics, params, tags, datasets, lineage, each under a heading."""
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def row(key: str, value: object, *, markup: bool = False) -> None:
        text = "" if value is None else str(value)
        grid.add_row(output.escaped(key), text if markup else output.escaped(text))

    row("stage", output.styled_stage(output.escaped(doc["stage"])), markup=True)
    if doc.get("aliases"):
        row("aliases", ", ".join(doc["aliases"]))
    row("digest", doc["digest"])
    size = doc.get("size")
    files = doc.get("files")
    what = doc["kind"] if doc["kind"] != "directory" else f"directory of {files} file{'s' if files != 1 else ''}"
    exact = f" ({size:,} bytes)" if isinstance(size, int) and size >= 1024 else ""
    row("artifact", f"{what}, {output.human_size(size)}{exact}")
    if doc.get("filename"):
        row("filename", doc["filename"])
    facts = [doc[k] for k in ("format", "framework") if doc.get(k)]
    if facts:
        row("format", " · ".join(str(f) for f in facts))
    if doc.get("parameters") is not None:
        count = doc["parameters"]
        dtypes = f", {', '.join(map(str, doc['dtypes']))}" if isinstance(doc.get("dtypes"), list) else ""
        exact = f"{count:,}" if isinstance(count, int) else str(count)
        row("parameters", f"{output.human_count(count)} ({exact}{dtypes})")
    created = output.ago(doc.get("created_at"))
    row("created", f"{created} ({doc.get('created_at')})" + (f" by {doc['created_by']}" if doc.get("created_by") else ""))
    if doc.get("description"):
        row("description", doc["description"])

    def section(title: str, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        grid.add_row("", "")
        grid.add_row(f"[bold underline]{output.escaped(title)}[/]", "")
        for key, text in items:
            grid.add_row(f"  {output.escaped(key)}", output.escaped(text))

    def plain(table: dict | None) -> list[tuple[str, str]]:
        return [(k, v if isinstance(v, str) else _number(v) if isinstance(v, float)
                 else jsonlib.dumps(v, ensure_ascii=False)) for k, v in (table or {}).items()]

    section("metrics", [(k, _number(v)) for k, v in (doc.get("metrics") or {}).items()])
    section("params", plain(doc.get("params")))
    section("tags", plain(doc.get("tags")))
    section("datasets", [(k, str(_dataset_text(d, True))) for k, d in (doc.get("datasets") or {}).items()])
    lineage = dict(doc.get("lineage") or {})
    items = []
    if lineage.get("git_commit"):
        items.append(("git", lineage.pop("git_commit")[:12] + (" (uncommitted changes)" if lineage.pop("git_dirty", False) else "")))
    items += plain(lineage)
    if doc.get("derived_from"):
        items.append(("derived from", ", ".join(map(str, doc["derived_from"]))))
    section("lineage", items)
    section("metadata", plain(doc.get("metadata")))
    title = f"[bold]{output.escaped(doc['name'])}@{output.escaped(doc['version'])}[/]"
    output.console().print(Panel(grid, title=title, title_align="left", expand=False))

# Metrics where lower is better: their falls are shown as improvements.
_LOWER_IS_BETTER = ("loss", "error", "err", "latency", "mse", "mae", "rmse", "perplexity", "ppl", "wer", "cer",
                    "time", "duration", "size", "memory")


def lower_is_better(metric: str) -> bool:
    words = metric.lower().replace("-", "_").replace(".", "_").split("_")
    return any(word in _LOWER_IS_BETTER for word in words)


def _number(value: object, terminal: bool = True) -> str:
    return output.number(value, terminal=terminal)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return jsonlib.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _signed(value: int | float, terminal: bool = True) -> str:
    text = _number(value, terminal)
    return text if text.startswith("-") else f"+{text}"


def diff_rows(doc: dict, *, terminal: bool) -> list[tuple[str, str, str, str, str]]:
    """(key, left, right, change, style) for every difference; metrics always, with their delta."""
    rows: list[tuple[str, str, str, str, str]] = []
    for key, entry in doc["fields"].items():
        a, b = entry["left"], entry["right"]
        change, style = "changed", ""
        if key == "size" and terminal:
            a, b = output.human_size(a), output.human_size(b)
            if "delta" in entry:
                change = ("+" if entry["delta"] >= 0 else "-") + output.human_size(abs(entry["delta"]))
        elif key == "parameters" and terminal and "delta" in entry:
            a, b = output.human_count(a), output.human_count(b)
            change = _signed(entry["delta"], terminal)
        elif "delta" in entry:
            change = _signed(entry["delta"], terminal)
        elif key == "digest" and terminal:
            a, b = _short_digest(a), _short_digest(b)
        if key == "stage" and terminal:
            a, b = output.styled_stage(output.escaped(_text(a))), output.styled_stage(output.escaped(_text(b)))
            rows.append((key, a, b, change, "markup"))
            continue
        rows.append((key, _text(a), _text(b), change, style))
    for key, entry in doc["metrics"].items():
        a, b, change = entry["left"], entry["right"], entry["change"]
        style = ""
        if "delta" in entry:
            d = entry["delta"]
            if d == 0:
                text, style = "=", "dim"
            else:
                better = (d < 0) if lower_is_better(key) else (d > 0)
                arrow = "↑" if d > 0 else "↓"
                text = f"{arrow} {_signed(d)}" if terminal else _signed(d, terminal)
                if terminal and _is_number(a) and a != 0:
                    try:
                        text += f" ({d / abs(a):+.1%})"
                    except OverflowError:  # numbers past a float's range, from a registry made elsewhere
                        pass
                style = "green" if better else "red"
        else:
            text = "=" if change == "unchanged" else change
            style = "dim" if change == "unchanged" else "yellow"
        rows.append((f"metrics.{key}", _number(a, terminal) if a is not None else "",
                     _number(b, terminal) if b is not None else "", text, style))
    for section in ("params", "tags", "datasets"):
        for key, entry in doc[section].items():
            if entry["change"] == "unchanged":
                continue
            a, b = entry["left"], entry["right"]
            if section == "datasets":
                a, b = _dataset_text(a, terminal), _dataset_text(b, terminal)
            rows.append((f"{section}.{key}", _text(a), _text(b), entry["change"], "yellow"))
    files = doc.get("files")
    if files:
        size = output.human_size if terminal else (lambda n: "" if n is None else str(n))
        for entry in files["added"]:
            rows.append((f"files/{entry['path']}", "", size(entry["size"]), "added", "green"))
        for entry in files["removed"]:
            rows.append((f"files/{entry['path']}", size(entry["size"]), "", "removed", "red"))
        for entry in files["changed"]:
            rows.append((f"files/{entry['path']}", size(entry["left_size"]), size(entry["right_size"]),
                         "mode changed" if entry["executable_changed"] and entry["left_digest"] == entry["right_digest"]
                         else "changed", "yellow"))
    return rows


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short_digest(digest: object) -> str:
    text = _text(digest)
    return text[:19] + "…" if len(text) > 20 else text


def _dataset_text(dataset: object, terminal: bool) -> object:
    if not isinstance(dataset, dict):
        return dataset
    text = str(dataset.get("uri", ""))
    if dataset.get("digest"):
        text += f" ({_short_digest(dataset['digest'])})" if terminal else f" {dataset['digest']}"
    return text


def show_diff(doc: dict) -> None:
    """A table at a terminal (↑/↓ coloured); KEY, LEFT, RIGHT, CHANGE tab-separated lines when piped."""
    terminal = output.stdout_is_terminal()
    rows = diff_rows(doc, terminal=terminal)
    if not terminal:
        output.table([], [(key, a, b, change) for key, a, b, change, _ in rows])
        return
    from rich.table import Table

    left, right = doc["left"], doc["right"]
    same_model = left["name"] == right["name"]
    left_label = left["version"] if same_model else f"{left['name']}@{left['version']}"
    right_label = right["version"] if same_model else f"{right['name']}@{right['version']}"
    title = (f"{output.escaped(left['name'])}  {output.escaped(left['version'])} → {output.escaped(right['version'])}" if same_model
             else f"{output.escaped(left['name'])}@{output.escaped(left['version'])} → {output.escaped(right['name'])}@{output.escaped(right['version'])}")
    console = output.console()
    console.print(f"[bold]{title}[/]" + ("  [dim](same artifact)[/]" if doc["same_artifact"] else ""))
    if not rows:
        console.print("no differences")
        return
    grid = Table(show_edge=False, pad_edge=False, header_style="bold")
    grid.add_column("")
    grid.add_column(output.escaped(left_label), overflow="fold")
    grid.add_column(output.escaped(right_label), overflow="fold")
    grid.add_column("CHANGE", overflow="fold")
    for key, a, b, change, style in rows:
        if style == "markup":
            cells = (output.escaped(key), a, b, output.escaped(change))
        else:
            cells = (output.escaped(key), output.escaped(a), output.escaped(b), f"[{style}]{output.escaped(change)}[/]" if style else output.escaped(change))
        grid.add_row(*cells)
    console.print(grid)
    files = doc.get("files")
    if files:
        console.print(f"[dim]files: {len(files['added'])} added, {len(files['removed'])} removed, "
                      f"{len(files['changed'])} changed, {files['unchanged']} unchanged[/]")


def _split_move(event: dict) -> tuple[str, str] | None:
    """A deploy or undeploy as (`ENV: split before`, `ENV: split after`); None for other events."""
    details = event.get("details") or {}
    if event.get("action") not in ("deploy", "undeploy") or "env" not in details:
        return None
    from mreg.core.split import describe

    return (f"{details['env']}: {describe(details['from'])}", f"{details['env']}: {describe(details['to'])}")


def show_history(events: list[dict]) -> None:
    """Events: at a terminal, model@version and from → to share a column each, so
    eight fields fit 80 columns; piped, one event a line with every field apart."""
    if not output.stdout_is_terminal():
        output.table([], [[output.ago(e["time"]), e["user"], e["action"], e["name"], e["version"] or "",
                           *(_split_move(e) or (e["from"] or "-", e["to"] or "-")), e["reason"]] for e in events])
        return

    rows = []
    for e in events:
        ref = f"{e['name']}@{e['version']}" if e.get("version") else e["name"]
        source, target = e.get("from"), e.get("to")
        stages = [output.styled_stage(output.escaped(stage)) for stage in (source, target) if stage]
        move = " → ".join(stages)
        split_move = _split_move(e)
        if split_move:
            move = output.escaped(" → ".join(split_move))
        elif e["action"] == "alias" and isinstance(e.get("details"), dict):
            # An alias event moves no stage: the column shows the alias and the versions it moved between.
            details = e["details"]
            move = output.escaped(f"{details.get('alias')}: {details.get('before') or '-'} → {details.get('after') or '-'}")
        rows.append([output.ago(e["time"]), e["user"], e["action"], ref, move, e["reason"]])
    output.table(["TIME", "USER", "ACTION", "VERSION", "STAGE", "REASON"], rows, markup={4})
