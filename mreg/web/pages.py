"""The pages: each a function of a `Snapshot` returning the page's bytes, and where each one lives.

Every page sits at a path of its own (`models/NAME/_v/1.2.0.html`); links
between pages are relative, so the site opens from the file system, from any
static host and from `mreg ui` alike. Inside a model's folder every file name
starts with `_`, which no model name segment can, so one model's pages never
collide with a model nested under it (`models/a/_index.html`, `models/a/b/_index.html`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from urllib.parse import quote

from mreg.core.version import DIFF_FIELDS, SECTIONS
from mreg.web.markup import Html, html, join, raw, script_json
from mreg.web.reading import Snapshot
from mreg.web.svg import lineage_graph, metric_chart, metric_id, number

ASSETS = ("site.css", "site.js")
# No script or style but the site's own files, nothing loaded from elsewhere: should an
# escaping ever fail, injected markup still could not run (mreg ui sends the same policy).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; base-uri 'none'")
# The metrics the versions table shows as columns (the charts show them all).
TABLE_METRICS = 4


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
    return html('<span class="stage stage-{cls}">{name}</span>', cls=_css_word(str(name)), name=name)


def _css_word(text: str) -> str:
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


def _version_link(page: Page, snapshot: Snapshot, label: str) -> str | None:
    """The page of NAME@VERSION, if the site has it."""
    name, _, version = label.rpartition("@")
    return page.link(version_path(name, version)) if name and snapshot.has(name, version) else None


def _ref_html(page: Page, snapshot: Snapshot, label: str) -> Html:
    target = _version_link(page, snapshot, label)
    return html('<a href="{h}">{l}</a>', h=target, l=label) if target else html("{l}", l=label)


# --- the index -----------------------------------------------------------------
def _mapping(value: object) -> dict:
    """A mapping read from the index, or {} (the keys that hold them are optional)."""
    return value if isinstance(value, dict) else {}


def _traffic(deployment: object) -> dict:
    return _mapping(_mapping(deployment).get("traffic"))


def _aliases(model: dict) -> str:
    return ", ".join(f"{alias} → {version}" for alias, version in sorted(_mapping(model.get("aliases")).items()))


def _deployments(model: dict) -> str:
    deployments = _mapping(model.get("deployments"))
    parts = []
    for env in sorted(deployments):
        shares = ", ".join(f"{v} {number(p)}%" for v, p in sorted(_traffic(deployments[env]).items()))
        parts.append(f"{env}: {shares}" if shares else env)
    return "; ".join(parts)


def index_page(snapshot: Snapshot) -> bytes:
    page = Page("index.html")
    # Aliases and deployments get their columns when some model has them.
    with_aliases = any(snapshot.models[n].get("aliases") for n in snapshot.names)
    with_deployments = any(snapshot.models[n].get("deployments") for n in snapshot.names)
    rows = []
    for name in snapshot.names:
        model = snapshot.models[name]
        summary = snapshot.summaries.get(name, {})
        versions = snapshot.versions(name)
        release = [v for v in versions if model["versions"][v]["stage"] == snapshot.release]
        search = " ".join([name, _aliases(model), _deployments(model)]).lower()
        extra = join(html("<td>{x}</td>", x=text) for text, shown in
                     ((_aliases(model), with_aliases), (_deployments(model), with_deployments)) if shown)
        rows.append(html(
            '<tr data-search="{search}"><th scope="row"><a href="{href}">{name}</a></th><td>{count}</td>'
            '<td><a href="{latest_href}">{latest}</a></td><td>{release}</td>{extra}<td>{changed}</td></tr>',
            search=search, href=page.link(model_path(name)), name=name, count=len(versions),
            latest_href=page.link(version_path(name, versions[-1])), latest=versions[-1],
            release=join((html('<a href="{h}">{v}</a>', h=page.link(version_path(name, v)), v=v) for v in release), ", "),
            extra=extra, changed=when(summary.get("updated_at"))))
    count = len(snapshot.names)
    body = html(
        '<h1>Models</h1>'
        '<p class="lead">{count} {models}.</p>'
        '<div class="search" hidden><label for="filter">Filter models</label>'
        '<input id="filter" type="search" placeholder="name, alias or environment" autocomplete="off">'
        '<output id="shown" for="filter" aria-live="polite"></output></div>'
        '<div class="scroll"><table id="models"><thead><tr><th scope="col">Model</th><th scope="col">Versions</th>'
        '<th scope="col">Latest</th><th scope="col">{release}</th>{extra}'
        '<th scope="col">Last change</th></tr></thead><tbody>{rows}</tbody></table></div>'
        '<p id="none" hidden>No model matches.</p>',
        count=count, models="model" if count == 1 else "models", release=snapshot.release.capitalize(),
        extra=join(html('<th scope="col">{h}</th>', h=h) for h, shown in
                   (("Aliases", with_aliases), ("Deployments", with_deployments)) if shown),
        rows=join(rows))
    return layout(page, "Models · mreg", [("Models", None)], body)


# --- a model -------------------------------------------------------------------
def _metric_keys(snapshot: Snapshot, name: str) -> list[str]:
    keys = set()
    for record in snapshot.models[name]["versions"].values():
        keys.update(k for k, v in (record.get("metrics") or {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool))
    return sorted(keys)


def _event_rows(page: Page, snapshot: Snapshot, events: list[dict], *, with_version: bool = True) -> list[list]:
    rows = []
    for event in events:
        name, version = event.get("name"), event.get("version")
        move = join([event.get("from") or "", " → " if event.get("from") and event.get("to") else "",
                     event.get("to") or ""]) if (event.get("from") or event.get("to")) else ""
        row = [when(event.get("time")), event.get("user", ""), event.get("action", "")]
        if with_version:
            row.append(_ref_html(page, snapshot, f"{name}@{version}") if version else "")
        row += [move, event.get("reason", "")]
        rows.append(row)
    return rows


def model_page(snapshot: Snapshot, name: str) -> bytes:
    page = Page(model_path(name))
    model = snapshot.models[name]
    versions = snapshot.versions(name)
    metrics = _metric_keys(snapshot, name)
    shown_metrics = metrics[:TABLE_METRICS]
    rows = []
    for i, version in enumerate(reversed(versions)):
        record = model["versions"][version]
        previous = versions[len(versions) - 2 - i] if len(versions) - 2 - i >= 0 else None
        compare = (html('<a href="{h}">vs {p}</a>', h=page.link(compare_path(name, previous, version)), p=previous)
                   if previous else "")
        values = [value_text(record.get("metrics", {})[m]) if m in (record.get("metrics") or {}) else ""
                  for m in shown_metrics]
        rows.append([html('<a href="{h}">{v}</a>', h=page.link(version_path(name, version)), v=version),
                     stage(record["stage"]), *values, when(record.get("created_at")),
                     record.get("created_by", ""), compare])
    versions_table = table(["Version", "Stage", *shown_metrics, "Registered", "By", "Compare"], rows,
                           caption=f"{len(versions)} versions, newest first", cls="versions")

    charts = join(
        html('<figure class="chart-box" id="metric-{id}"><figcaption>{metric}</figcaption>{svg}</figure>',
             id=metric_id(metric), metric=metric,
             svg=metric_chart(metric, versions, {v: model["versions"][v]["metrics"][metric] for v in versions
                                                 if isinstance((model["versions"][v].get("metrics") or {}).get(metric), (int, float))
                                                 and not isinstance(model["versions"][v]["metrics"][metric], bool)},
                              lambda v: page.link(version_path(name, v))))
        for metric in metrics)

    history = snapshot.history(name)
    moves = [e for e in history if e.get("from") or e.get("to")]
    timeline = join(html('<li>{time} <strong>{version}</strong> {source}{arrow}{target}<span class="who"> by {user}</span>'
                         '{reason}</li>',
                         time=when(e.get("time")), version=_ref_html(page, snapshot, f"{name}@{e.get('version')}"),
                         source=stage(e["from"]) if e.get("from") else "", arrow=" → " if e.get("from") else "",
                         target=stage(e["to"]) if e.get("to") else raw("<em>removed</em>"), user=e.get("user", ""),
                         reason=html('<q>{r}</q>', r=e["reason"]) if e.get("reason") else "")
                    for e in reversed(moves))
    options = join(html('<option value="{v}">{v}</option>', v=v) for v in reversed(versions))
    left_default = versions[-2] if len(versions) > 1 else versions[-1]
    picker = html(
        '<form class="picker" action="{action}" method="get">'
        '<label>From <select name="a" data-default="{left}">{options}</select></label> '
        '<label>To <select name="b" data-default="{right}">{options}</select></label> '
        '<button type="submit">Compare</button></form>',
        action=page.link(picker_path(name)), left=left_default, right=versions[-1], options=options)
    facts = pairs([("Versions", str(len(versions))), ("Latest", _ref_html(page, snapshot, f"{name}@{versions[-1]}")),
                   (snapshot.release.capitalize(), join((_ref_html(page, snapshot, f"{name}@{v}") for v in versions
                                                         if model["versions"][v]["stage"] == snapshot.release), ", ")),
                   ("Aliases", _aliases(model)), ("Deployments", _deployments(model))])
    body = join([
        html('<h1>{name}</h1>', name=name), facts,
        section("Versions", versions_table, ident="versions"),
        section("Compare two versions", picker, ident="compare"),
        section("Metrics across versions", charts or raw("<p>No metrics recorded.</p>"), ident="metrics"),
        section("Stage timeline", html('<ol class="timeline">{items}</ol>', items=timeline), ident="timeline"),
        section("History", table(["Time", "User", "Action", "Version", "Stage", "Reason"],
                                 _event_rows(page, snapshot, history), caption="newest first", cls="history"),
                ident="history"),
    ])
    return layout(page, f"{name} · mreg", [("Models", "index.html"), (name, None)], body)


# --- a version -----------------------------------------------------------------
def _get_command(name: str, record: dict) -> str:
    target = record.get("filename") or name.rsplit("/", 1)[-1]
    if not isinstance(target, str) or not target or target.startswith("-"):
        target = name.rsplit("/", 1)[-1]
    return f"mreg get {name}@{record['version']} -o ./{target}"


def _section_table(title: str, values: dict, ident: str) -> Html:
    if not values:
        return raw("")
    return section(title, table(["Key", "Value"], [[k, value_text(v)] for k, v in values.items()]), ident=ident)


def version_page(snapshot: Snapshot, name: str, version: str) -> bytes:
    page = Page(version_path(name, version))
    record = snapshot.models[name]["versions"][version]
    versions = snapshot.versions(name)
    place = versions.index(version)
    label = f"{name}@{version}"
    lineage = record.get("lineage") or {}
    command = _get_command(name, record)

    neighbours = []
    if place > 0:
        neighbours.append(html('<a href="{h}">Compare with {v}</a>',
                               h=page.link(compare_path(name, versions[place - 1], version)), v=versions[place - 1]))
    if place + 1 < len(versions):
        neighbours.append(html('<a href="{h}">Compare with {v}</a>',
                               h=page.link(compare_path(name, version, versions[place + 1])), v=versions[place + 1]))

    model = snapshot.models[name]
    aliases = ", ".join(a for a, v in sorted(_mapping(model.get("aliases")).items()) if v == version)
    serving = []
    for env, deployment in sorted(_mapping(model.get("deployments")).items()):
        share = _traffic(deployment).get(version)
        if share is not None:
            serving.append(f"{env} ({number(share)}%)")
    summary = pairs([
        ("Stage", stage(record["stage"])), ("Since", when(record.get("stage_changed_at"))),
        ("Aliases", aliases), ("Serving", ", ".join(serving)),
        ("Kind", record.get("kind", "")), ("Size", f"{human_size(record.get('size'))}"),
        ("Files", value_text(record.get("files", ""))), ("Digest", html("<code>{d}</code>", d=record.get("digest", ""))),
        ("Registered", when(record.get("created_at"))), ("By", record.get("created_by", "")),
        ("Framework", record.get("framework", "")), ("Original name", record.get("filename", "")),
    ])
    facts = pairs([("Format", record.get("format") or ""),
                   ("Parameters", f"{record['parameters']:,}" if isinstance(record.get("parameters"), int) else ""),
                   ("Data types", ", ".join(map(str, record.get("dtypes") or [])))])

    datasets = record.get("datasets") or {}
    dataset_rows = [[key, (d or {}).get("uri", "") if isinstance(d, dict) else value_text(d),
                     html("<code>{x}</code>", x=d.get("digest", "")) if isinstance(d, dict) else "",
                     human_size(d.get("size")) if isinstance(d, dict) else ""]
                    for key, d in datasets.items()]
    parents = [p for p in record.get("derived_from", []) or [] if isinstance(p, str)]
    children = snapshot.derived.get(label, [])
    lineage_body = join([
        pairs([("Git commit", html("<code>{c}</code>", c=lineage["git_commit"]) if lineage.get("git_commit") else ""),
               ("Uncommitted changes", "yes" if lineage.get("git_dirty") else ""),
               ("Registered by", lineage.get("user", "")),
               ("Derived from", join((_ref_html(page, snapshot, p) for p in parents), ", ")),
               ("Derived into", join((_ref_html(page, snapshot, c) for c in children), ", "))]),
        table(["Dataset", "Source", "Digest", "Size"], dataset_rows, caption="Datasets") if dataset_rows else raw(""),
        lineage_graph(parents, label, children, lambda ref: _version_link(page, snapshot, ref))
        if parents or children else raw(""),
    ])
    files = raw("")
    if record.get("kind") == "directory":
        entries = snapshot.manifest(record["digest"])
        files = section("Files", table(
            ["Path", "Size", "Digest"],
            [[html("<code>{p}</code>{x}", p=e["path"], x=" (executable)" if e.get("executable") else ""),
              human_size(e.get("size")), html("<code>{d}</code>", d=e.get("digest", ""))] for e in entries],
            caption=f"{len(entries)} files", cls="files"), ident="files")
    custom = record.get("metadata") or {}
    custom_body = (section("Other metadata", html("<pre>{j}</pre>", j=json.dumps(custom, indent=2, sort_keys=True,
                                                                                  ensure_ascii=False)),
                           ident="other") if custom else raw(""))
    history = [e for e in snapshot.history(name) if e.get("version") == version]
    description = record.get("description") or ""
    body = join([
        html('<h1>{name}<span class="at">@{version}</span></h1>', name=name, version=version),
        html('<p class="description">{d}</p>', d=description) if description else raw(""),
        html('<div class="get"><label for="get-command">Get it</label>'
             '<input id="get-command" class="command" readonly value="{cmd}">'
             '<button type="button" class="copy" data-copy="get-command">Copy</button></div>', cmd=command),
        html('<p class="neighbours">{links}</p>', links=join(neighbours, " · ")) if neighbours else raw(""),
        summary,
        _section_table("Metrics", record.get("metrics") or {}, "metrics"),
        section("Lineage", lineage_body, ident="lineage"),
        files,
        _section_table("Parameters", record.get("params") or {}, "params"),
        _section_table("Tags", record.get("tags") or {}, "tags"),
        section("Format", facts, ident="format") if record.get("format") or record.get("parameters") else raw(""),
        custom_body,
        section("History", table(["Time", "User", "Action", "Stage", "Reason"],
                                 _event_rows(page, snapshot, history, with_version=False), cls="history"),
                ident="history"),
    ])
    return layout(page, f"{label} · mreg",
                  [("Models", "index.html"), (name, model_path(name)), (version, None)], body)


# --- comparing two versions --------------------------------------------------------
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


def data_file(snapshot: Snapshot, name: str, version: str) -> bytes:
    """One version for the compare picker: its document and, for a directory, its files."""
    document = snapshot.document(name, version)
    files = snapshot.manifest(document["digest"]) if document.get("kind") == "directory" else None
    payload = {"document": document, "files": files}
    # In the index's order, as `mreg diff` lists the keys of metrics, params and tags.
    return f"mregVersion({script_json(payload, sort_keys=False)});\n".encode()


# --- every page ------------------------------------------------------------------
def asset(name: str) -> bytes:
    from importlib.resources import files

    return files("mreg.web").joinpath("assets", name).read_bytes()


def pages(snapshot: Snapshot) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(path, render) for every page of the static site, sorted by model then version."""
    for name in ASSETS:
        yield f"static/{name}", lambda name=name: asset(name)
    yield "index.html", lambda: index_page(snapshot)
    for name in snapshot.names:
        versions = snapshot.versions(name)
        yield model_path(name), lambda name=name: model_page(snapshot, name)
        yield picker_path(name), lambda name=name: picker_page(snapshot, name)
        for i, version in enumerate(versions):
            yield version_path(name, version), lambda name=name, version=version: version_page(snapshot, name, version)
            yield data_path(name, version), lambda name=name, version=version: data_file(snapshot, name, version)
            if i:
                previous = versions[i - 1]
                yield (compare_path(name, previous, version),
                       lambda name=name, a=previous, b=version: compare_page(snapshot, name, a, b))


CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8"}


def route(snapshot: Snapshot, path: str) -> Callable[[], bytes] | None:
    """The page at a site path (as `mreg ui` is asked for it), or None: any pair of versions can be compared.

    Only paths the site itself would write are answered; nothing here opens a
    file named by the path.
    """
    if path in ("", "index.html"):
        return lambda: index_page(snapshot)
    if path.startswith("static/") and path[len("static/"):] in ASSETS:
        return lambda: asset(path[len("static/"):])
    if not path.startswith("models/"):
        return None
    parts = path[len("models/"):].split("/")
    last = parts[-1]
    if len(parts) >= 2 and last in ("_index.html", "_compare.html"):
        name = "/".join(parts[:-1])
        if name not in snapshot.names:
            return None
        return (lambda: model_page(snapshot, name)) if last == "_index.html" else (lambda: picker_page(snapshot, name))
    if len(parts) < 3:
        return None
    name, folder = "/".join(parts[:-2]), parts[-2]
    if name not in snapshot.names:
        return None
    known = snapshot.models[name]["versions"]
    if folder == "_v" and last.endswith(".html") and last[:-5] in known:
        return lambda: version_page(snapshot, name, last[:-5])
    if folder == "_data" and last.endswith(".js") and last[:-3] in known:
        return lambda: data_file(snapshot, name, last[:-3])
    if folder == "_compare" and last.endswith(".html"):
        left, _, right = last[:-5].partition("..")
        if left in known and right in known:
            return lambda: compare_page(snapshot, name, left, right)
    return None
