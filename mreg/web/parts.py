"""The pieces every page is built of: where each page lives, links between pages, the page layout and small
HTML helpers (sizes, times, stages, tables).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from mreg.web.markup import Html, html, join, raw
from mreg.web.reading import Snapshot
from mreg.web.svg import number

# No script or style but the site's own files, nothing loaded from elsewhere: should an
# escaping ever fail, injected markup still could not run (mreg ui sends the same policy).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; base-uri 'none'")

# --- where pages live ----------------------------------------------------------
def model_path(name: str) -> str:
    return f"models/{name}/_index.html"


def version_path(name: str, version: str) -> str:
    return f"models/{name}/_v/{version}.html"


def compare_path(name: str, left: str, right: str) -> str:
    return f"models/{name}/_compare/{left}..{right}.html"


def picker_path(name: str) -> str:
    return f"models/{name}/_compare.html"


def data_path(name: str, version: str) -> str:
    return f"models/{name}/_data/{version}.js"


class Page:
    """A page being written: links from it are relative to where it lives."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.up = "../" * path.count("/")

    def link(self, target: str) -> str:
        return self.up + quote(target)


# --- small pieces ----------------------------------------------------------------
def human_size(size: object) -> str:
    if not isinstance(size, int):
        return ""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def when(time: object) -> Html:
    """An ISO time, shown to the minute with its full value kept."""
    if not isinstance(time, str) or not time:
        return raw("")
    shown = time[:16].replace("T", " ") + " UTC" if len(time) >= 16 else time
    return html('<time datetime="{t}" title="{t}">{shown}</time>', t=time, shown=shown)


def stage(name: object) -> Html:
    return html('<span class="stage stage-{cls}">{name}</span>', cls=css_word(str(name)), name=name)


def css_word(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in text)


def value_text(value: object) -> str:
    """Any metadata value as one line of text (JSON for structures, numbers as written)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return number(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # as the browser's JSON.stringify writes it


def table(headers: list[str], rows: list[list[object]], *, caption: str = "", cls: str = "") -> Html:
    head = join(html('<th scope="col">{h}</th>', h=h) for h in headers)
    body = join(html("<tr>{cells}</tr>", cells=join(html("<td>{c}</td>", c=c) for c in row)) for row in rows)
    cap = html("<caption>{c}</caption>", c=caption) if caption else raw("")
    return html('<div class="scroll"><table class="{cls}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>',
                cls=cls, cap=cap, head=head, body=body)


def pairs(items: list[tuple[str, object]]) -> Html:
    """A definition list of the items whose value is not empty."""
    shown = [(k, v) for k, v in items if v not in (None, "", [], {})]
    return html('<dl class="facts">{items}</dl>', items=join(
        html("<div><dt>{k}</dt><dd>{v}</dd></div>", k=k, v=v) for k, v in shown))


def section(title: str, body: Html, *, ident: str) -> Html:
    return html('<section aria-labelledby="{id}"><h2 id="{id}">{title}</h2>{body}</section>',
                id=ident, title=title, body=body)


def layout(page: Page, title: str, crumbs: list[tuple[str, str | None]], body: Html,
           *, scripts: Html = raw("")) -> bytes:
    trail = join(html('<li><a href="{href}">{label}</a></li>', href=page.link(target), label=label) if target
                 else html('<li aria-current="page">{label}</li>', label=label) for label, target in crumbs)
    document = html(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<title>{title}</title><link rel="stylesheet" href="{css}"></head>'
        '<body><a class="skip" href="#main">Skip to the content</a><header class="top"><a class="brand" href="{home}">mreg</a>'
        '<nav aria-label="Breadcrumb"><ol class="crumbs">{trail}</ol></nav></header>'
        '<main id="main">{body}</main>'
        '<footer><p>Made by <code>mreg site</code> from the registry; read only.</p></footer>'
        '{scripts}<script src="{js}"></script></body></html>\n',
        title=title, csp=CSP, css=page.link("static/site.css"), js=page.link("static/site.js"), home=page.link("index.html"),
        trail=trail, body=body, scripts=scripts)
    return document.encode("utf-8", "replace")


def version_link(page: Page, snapshot: Snapshot, label: str) -> str | None:
    """The page of NAME@VERSION, if the site has it."""
    name, _, version = label.rpartition("@")
    return page.link(version_path(name, version)) if name and snapshot.has(name, version) else None


def ref_html(page: Page, snapshot: Snapshot, label: str) -> Html:
    target = version_link(page, snapshot, label)
    return html('<a href="{h}">{l}</a>', h=target, l=label) if target else html("{l}", l=label)
