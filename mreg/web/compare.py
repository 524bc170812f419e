"""Comparing two versions of a model: the page for one pair, and the picker that opens any pair."""

from __future__ import annotations

from mreg.core.version import DIFF_FIELDS, SECTIONS
from mreg.web.markup import Html, html, join, raw, script_json
from mreg.web.parts import (
    Page,
    compare_path,
    data_path,
    human_size,
    layout,
    model_path,
    picker_path,
    section,
    table,
    value_text,
    version_path,
)
from mreg.web.reading import Snapshot
from mreg.web.svg import number


def _change(entry: dict) -> Html:
    change = entry.get("change", "changed")
    delta = entry.get("delta")
    shown = f"{'+' if delta > 0 else ''}{number(delta)}" if isinstance(delta, (int, float)) and delta else change
    return html('<span class="change change-{c}">{s}</span>', c=change, s=shown)


def compare_body(page: Page, snapshot: Snapshot, result: dict) -> Html:
    """The content of `mreg diff` for two versions, as the compare pages show it."""
    left, right = result["left"], result["right"]
    parts = [html('<p class="lead">{same}</p>', same="The same artifact (identical bytes)." if result["same_artifact"]
                  else "Different artifacts.")]
    field_rows = [[key, value_text(e.get("left")), value_text(e.get("right")),
                   _change({"change": "changed", **e})] for key, e in result["fields"].items()]
    parts.append(section("Fields", table(["Field", "From", "To", "Change"], field_rows, cls="diff") if field_rows
                         else raw("<p>No field differs.</p>"), ident="fields"))
    for key in SECTIONS:
        entries = result.get(key) or {}
        rows = [[k, value_text(e["left"]) if e["change"] != "added" else "",
                 value_text(e["right"]) if e["change"] != "removed" else "", _change(e)]
                for k, e in entries.items()]
        if rows:
            parts.append(section(key.capitalize(), table(["Key", "From", "To", "Change"], rows, cls="diff"),
                                 ident=f"diff-{key}"))
    files = result.get("files")
    if files is not None:
        rows = ([[html("<code>{p}</code>", p=f["path"]), "", human_size(f.get("size")), _change({"change": "added"})]
                 for f in files["added"]]
                + [[html("<code>{p}</code>", p=f["path"]), human_size(f.get("size")), "", _change({"change": "removed"})]
                   for f in files["removed"]]
                + [[html("<code>{p}</code>", p=f["path"]), human_size(f.get("left_size")), human_size(f.get("right_size")),
                    _change({"change": "changed"})] for f in files["changed"]])
        parts.append(section("Files", join([
            table(["Path", "From", "To", "Change"], rows, cls="diff") if rows else raw(""),
            html("<p>{n} files unchanged.</p>", n=files["unchanged"])]), ident="diff-files"))
    heading = html('<h1>Compare <a href="{lh}">{l}</a> with <a href="{rh}">{r}</a></h1>',
                   lh=page.link(version_path(left["name"], left["version"])), l=f"{left['name']}@{left['version']}",
                   rh=page.link(version_path(right["name"], right["version"])), r=f"{right['name']}@{right['version']}")
    return join([heading, *parts])


def compare_page(snapshot: Snapshot, name: str, left: str, right: str) -> bytes:
    page = Page(compare_path(name, left, right))
    result = snapshot.compare(snapshot.document(name, left), snapshot.document(name, right))
    return layout(page, f"{name}@{left} vs {right} · mreg",
                  [("Models", "index.html"), (name, model_path(name)), (f"{left} vs {right}", None)],
                  compare_body(page, snapshot, result))


def picker_page(snapshot: Snapshot, name: str) -> bytes:
    """Any two versions compared in the browser, from the versions' data files (one per version, not one per pair)."""
    page = Page(picker_path(name))
    versions = snapshot.versions(name)
    # The fields diff compares, from their one definition, so the browser compares the same ones.
    data = {"name": name, "versions": versions, "fields": list(DIFF_FIELDS), "sections": list(SECTIONS),
            "data": {v: page.link(data_path(name, v)) for v in versions},
            "pages": {v: page.link(version_path(name, v)) for v in versions}}
    body = html(
        '<div id="comparison" aria-live="polite"><h1>Compare versions of {name}</h1>'
        '<noscript><p>Comparing any two versions needs JavaScript; each version\'s page links to its neighbours.</p></noscript>'
        '<p>Pick two versions on the <a href="{model}#compare">model page</a>.</p></div>',
        name=name, model=page.link(model_path(name)))
    scripts = html('<script type="application/json" id="compare-data">{data}</script>', data=raw(script_json(data)))
    return layout(page, f"Compare {name} · mreg",
                  [("Models", "index.html"), (name, model_path(name)), ("Compare", None)], body, scripts=scripts)
