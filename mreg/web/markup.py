"""HTML that escapes by default: every value put into a page is text unless it is already `Html`.

A model's description, a tag, a reason are user input. The pages are built
from small templates, `html("<p>{text}</p>", text=...)`, which escape every
value that is not `Html` (what another template produced), so hostile markup
in the registry renders as the characters it is made of.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape as _escape


class Html(str):
    """Markup already escaped (made by `html`, `join` or `raw`): put into a template as it is."""

    __slots__ = ()


def escape(value: object) -> Html:
    """`value` as text: & < > " ' escaped."""
    if isinstance(value, Html):
        return value
    return Html(_escape(str(value), quote=True))


def html(template: str, **values: object) -> Html:
    """Fill `template`'s {names}: each value escaped unless it is `Html`.

    The template itself is trusted (it is written in this package); it must
    hold no braces other than the placeholders.
    """
    return Html(template.format(**{key: escape(value) for key, value in values.items()}))


def join(parts: Iterable[object], separator: str = "") -> Html:
    """Several pieces side by side, each escaped unless it is `Html`."""
    return Html(separator.join(escape(part) for part in parts))


def raw(text: str) -> Html:
    """Markup written in this package (never anything read from the registry)."""
    return Html(text)


# Inside <script>, "</script>" or "<!--" would end or change the script element, and
# U+2028/U+2029 end a line in older JavaScript: all are written as \u escapes, which
# mean the same characters to JSON.parse and to JavaScript (json.dumps's ASCII output
# escapes U+2028 already; the table says so again, for whoever changes that).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value: object, *, sort_keys: bool = True) -> str:
    """`value` as JSON that can sit inside a <script> element or a .js file.

    Keys are sorted unless `sort_keys` is False, for documents whose order is
    the registry's own (then the same registry still gives the same bytes).
    """
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":")).translate(_SCRIPT_SAFE)
