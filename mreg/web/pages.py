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

from mreg.web.compare import compare_page, picker_page
from mreg.web.markup import Html, html, join, raw, script_json
from mreg.web.parts import (Page, compare_path, data_path, human_size, layout, model_path, pairs, picker_path,
                            ref_html, section, stage, table, value_text, version_link, version_path, when)
from mreg.web.reading import Snapshot
from mreg.web.svg import lineage_graph, metric_chart, metric_id, number

ASSETS = ("site.css", "site.js")
# The metrics the versions table shows as columns (the charts show them all).
TABLE_METRICS = 4


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
            row.append(ref_html(page, snapshot, f"{name}@{version}") if version else "")
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
                         time=when(e.get("time")), version=ref_html(page, snapshot, f"{name}@{e.get('version')}"),
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
    facts = pairs([("Versions", str(len(versions))), ("Latest", ref_html(page, snapshot, f"{name}@{versions[-1]}")),
                   (snapshot.release.capitalize(), join((ref_html(page, snapshot, f"{name}@{v}") for v in versions
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
               ("Derived from", join((ref_html(page, snapshot, p) for p in parents), ", ")),
               ("Derived into", join((ref_html(page, snapshot, c) for c in children), ", "))]),
        table(["Dataset", "Source", "Digest", "Size"], dataset_rows, caption="Datasets") if dataset_rows else raw(""),
        lineage_graph(parents, label, children, lambda ref: version_link(page, snapshot, ref))
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
