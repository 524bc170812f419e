"""The pictures, drawn as SVG by the generator: a metric across versions, and a version's lineage.

Coordinates are written with one decimal, so the same registry gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mreg.web.markup import Html, html, join

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def _n(value: float) -> str:
    return f"{value:.1f}"


def number(value: object) -> str:
    """A metric as people read it: integers whole, floats in their shortest exact form."""
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e16 else f"{value:.1f}"
    return str(value)


def metric_chart(metric: str, versions: Sequence[str], values: dict[str, float],
                 href: Callable[[str], str]) -> Html:
    """One metric across a model's versions: x is each version's place (lowest first), one point per version having it."""
    present = [v for v in versions if v in values]
    low, high = min(values[v] for v in present), max(values[v] for v in present)
    span = (high - low) or abs(high) or 1.0
    if high == low:  # a flat line sits in the middle
        low, high = low - span / 2, high + span / 2
        span = high - low
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    place = {v: i for i, v in enumerate(versions)}
    step = inner_w / max(len(versions) - 1, 1)

    def xy(version: str) -> tuple[str, str]:
        x = LEFT + (place[version] * step if len(versions) > 1 else inner_w / 2)
        y = TOP + inner_h - (values[version] - low) / span * inner_h
        return _n(x), _n(y)

    coordinates = [xy(v) for v in present]
    line = " ".join(f"{x},{y}" for x, y in coordinates)
    points = join(
        html('<a href="{href}"><circle class="point" cx="{x}" cy="{y}" r="4"><title>{version}: {value}</title></circle></a>',
             href=href(v), x=x, y=y, version=v, value=number(values[v]))
        for v, (x, y) in zip(present, coordinates))
    axis_y = _n(TOP + inner_h)
    return html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title" data-metric="{metric}">'
        '<title id="{id}-title">{metric} across {count} versions, from {low} to {high}</title>'
        '<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}"/>'
        '<line class="axis" x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}"/>'
        '<text class="label" x="{label_x}" y="{top_label}" text-anchor="end">{max_label}</text>'
        '<text class="label" x="{label_x}" y="{axis_y}" text-anchor="end">{min_label}</text>'
        '<text class="label" x="{left}" y="{version_y}">{first}</text>'
        '<text class="label" x="{right}" y="{version_y}" text-anchor="end">{last}</text>'
        '<polyline class="line" points="{line}"/>{points}</svg>',
        w=WIDTH, h=HEIGHT, id="chart-" + metric_id(metric), metric=metric, count=len(present),
        low=number(min(values.values())), high=number(max(values.values())),
        left=LEFT, top=TOP, right=WIDTH - RIGHT, axis_y=axis_y, label_x=LEFT - 6, top_label=_n(TOP + 4),
        max_label=number(max(values[v] for v in present)), min_label=number(min(values[v] for v in present)),
        version_y=HEIGHT - BOTTOM + 20, first=versions[0], last=versions[-1], line=line, points=points)


def metric_id(metric: str) -> str:
    """A metric's name as an id fragment (ids are ASCII letters, digits and dashes here)."""
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in metric) + "-" + format(
        sum(ord(c) * 31 ** i for i, c in enumerate(metric)) % 65521, "x")


NODE_W, NODE_H, GAP_X, GAP_Y = 190, 30, 60, 12


def lineage_graph(parents: Sequence[str], current: str, children: Sequence[str],
                  href: Callable[[str], str | None]) -> Html:
    """The versions a version came from (left), itself, and those derived from it (right), joined by arrows."""
    rows = max(len(parents), len(children), 1)
    height = rows * (NODE_H + GAP_Y) + GAP_Y
    columns = [(0, parents), (1, [current]), (2, children)]
    width = 3 * NODE_W + 2 * GAP_X
    centre: dict[tuple[int, int], tuple[float, float]] = {}
    nodes = []
    for column, labels in columns:
        top = (height - len(labels) * (NODE_H + GAP_Y) + GAP_Y) / 2
        for row, label in enumerate(labels):
            x, y = column * (NODE_W + GAP_X), top + row * (NODE_H + GAP_Y)
            centre[column, row] = (x, y + NODE_H / 2)
            shown = label if len(label) <= 26 else label[:25] + "…"
            box = html('<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4"/>'
                       '<text x="{tx}" y="{ty}"><title>{label}</title>{shown}</text>',
                       x=_n(x), y=_n(y), w=NODE_W, h=NODE_H, tx=_n(x + 8), ty=_n(y + NODE_H / 2 + 4),
                       label=label, shown=shown)
            target = href(label) if column != 1 else None
            cls = "node current" if column == 1 else "node"
            nodes.append(html('<a href="{href}" class="{cls}">{box}</a>', href=target, cls=cls, box=box) if target
                         else html('<g class="{cls}">{box}</g>', cls=cls, box=box))
    edges = []
    _, me = centre[1, 0]
    for row in range(len(parents)):
        x, y = centre[0, row]
        edges.append(html('<line class="edge" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#arrow)"/>',
                          x1=_n(x + NODE_W), y1=_n(y), x2=_n(NODE_W + GAP_X - 2), y2=_n(me)))
    for row in range(len(children)):
        x, y = centre[2, row]
        edges.append(html('<line class="edge" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#arrow)"/>',
                          x1=_n(2 * NODE_W + GAP_X), y1=_n(me), x2=_n(x - 2), y2=_n(y)))
    return html(
        '<svg class="lineage" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0L10,5L0,10z"/></marker></defs>{edges}{nodes}</svg>',
        w=width, h=_n(height), edges=join(edges), nodes=join(nodes),
        label=f"{current}: derived from {len(parents)}, {len(children)} derived from it")
