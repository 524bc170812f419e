"""The filter language of `mreg search` (the README's Search section); sorting is in `sorting.py`.

    metrics.accuracy >= 0.85 and (stage = 'production' or tags.team = "ML Team")

A filter is tokenized, parsed by recursive descent and compiled into nested
Python closures over a *version document* (the dict `mreg show --json` prints),
so that testing a version is a handful of dict lookups and comparisons.

Grammar (keywords are case-insensitive):

    filter     := <empty> | or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := field ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") value
                | field ["not"] ("like" | "ilike") string
                | field ["not"] "in" "(" value ("," value)* [","] ")"
    field      := name | version | stage | created_at | created_by | description
                | framework | size | files | kind | digest | format | parameters
                | (metrics | params | tags | datasets) "." (identifier | `quoted key`)
                | datasets "." (identifier | `quoted key`) "." (uri | digest | size | kind)

`datasets.K` is dataset K's URI; `datasets.K.digest` its digest (the
SHA-256 mreg took of a local path), and so on for `uri`, `size` and `kind`.

Values are quoted strings, numbers, `true`/`false`, versions (`1.10.0`),
times (`2026-11-01`, `-7d`) and sizes (`10MB`). The field decides how a value
is read: `version` takes versions, `created_at` times, `size` byte counts.

Comparisons follow SQL's three-valued logic: a comparison on a field the
version lacks, or between values that cannot be compared, is UNKNOWN (None
here); `not` keeps UNKNOWN; `and`/`or` are Kleene's; a version matches only
when the whole filter is TRUE.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from collections.abc import Callable

from mreg.core.metadata import SECTIONS
from mreg.core.semver import Version
from mreg.core.timeparse import format_time, parse_time, parse_when, utc_now
from mreg.core.version import FILTER_FIELDS
from mreg.errors import UsageError

# Fields of a version, in the order the help lists them (mreg/core/version.py).
SIMPLE_FIELDS = FILTER_FIELDS
# The SECTIONS hold mappings; a filter names one entry, as in `metrics.accuracy`.
# Every field a filter or `--sort` can name: the simple fields, then each section's prefix.
KNOWN_FIELDS = SIMPLE_FIELDS + tuple(f"{section}." for section in SECTIONS)

MAX_FILTER_LENGTH = 10_000
MAX_DEPTH = 100  # parentheses and `not`s nested inside each other

# How a field's values are read and compared, where it is not "any".
_FIELD_TYPES = {"version": "version", "created_at": "time", "size": "size"}
# What a filter can read of one dataset (`datasets.train.digest`), and how each compares.
DATASET_PARTS = {"uri": "any", "digest": "any", "size": "size", "kind": "any"}
_KNOWN_FIELDS_TEXT = ", ".join(SIMPLE_FIELDS + tuple(f"{s}.KEY" for s in SECTIONS))

_WORD = re.compile(r"[A-Za-z0-9_.:+\-]+", re.ASCII)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_SIZE = re.compile(r"([0-9]+)(?:\.([0-9]+))?([kmgtp]i?)?b", re.ASCII | re.IGNORECASE)
# SI prefixes count thousands (1 kB = 1000 bytes), IEC ones 1024s (1 KiB = 1024 bytes).
_SIZE_PREFIXES = (
    {"": 1}
    | {prefix: 1000**power for power, prefix in enumerate("kmgtp", start=1)}
    | {prefix + "i": 1024**power for power, prefix in enumerate("kmgtp", start=1)}
)
_TIME_WORD = re.compile(r"-?(?:[0-9]+[wdhms])+|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt].*)?", re.ASCII)
_CANONICAL_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z", re.ASCII
)

# `<=` before `<` and `==` before `=`: the longest operator wins.
_OPERATORS = ("<=", ">=", "<>", "!=", "==", "=", "<", ">")
_OPERATOR_ALIASES = {"==": "=", "<>": "!="}
_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_RESERVED = {"and", "or", "not", "like", "ilike", "in"}
_OPERATOR_HELP = "an operator (=, !=, <, <=, >, >=, like, ilike, in, not in)"

_Node = Callable[[dict], "bool | None"]  # TRUE, FALSE or None for UNKNOWN


class FilterError(UsageError):
    """A filter (or a field name) that does not parse; `position` is 0-based."""

    def __init__(self, detail: str, text: str, position: int, message: str | None = None) -> None:
        super().__init__(message or f"syntax error at column {position + 1}: {detail}")
        self.detail = detail
        self.text = text
        self.position = position

    def pointer(self, width: int = 100) -> str:
        """The filter on one line and a `^` under the fault on the next.

        Whitespace shows as spaces so the caret stays aligned; a filter longer
        than `width` is cut to a window around the fault.
        """
        shown = "".join(" " if c.isspace() or not c.isprintable() else c for c in self.text)
        caret = min(self.position, len(shown))
        if len(shown) > width:
            start = max(0, min(caret - width // 2, len(shown) - width))
            shown = shown[start : start + width]
            caret -= start
            if start > 0:
                shown = "…" + shown[1:]
            if start + width < len(self.text):
                shown = shown[:-1] + "…"
        return f"{shown}\n{' ' * caret}^"


@dataclass(frozen=True)
class FieldPath:
    """A parsed field: `name` is its canonical spelling, `section` its mapping, if any."""

    name: str
    section: str | None = None
    key: str = ""
    type: str = "any"  # "version", "time", "size" or "any"
    part: str = ""  # of a dataset: "uri", "digest", "size" or "kind" ("" is its URI)


class Filter:
    """A compiled filter: `matches(doc)` is True only when the whole filter is TRUE."""

    __slots__ = ("text", "fields", "_predicate")

    def __init__(self, text: str, fields: list[str], predicate: _Node) -> None:
        self.text = text
        self.fields = fields  # field names referenced, in order of first appearance
        self._predicate = predicate

    def matches(self, doc: dict) -> bool:
        """Whether the version document `doc` satisfies the filter."""
        return self._predicate(doc) is True

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def compile_filter(text: str, now: datetime | None = None) -> Filter:
    """Compile a `mreg search` filter; an empty filter matches every version.

    Relative times (`-7d`) are resolved once, against `now` (default: the
    current time). Raises FilterError, with the position of the fault, for
    anything that is not a well-formed filter.
    """
    if not isinstance(text, str):
        raise FilterError(f"a filter is text, not {type(text).__name__}", "", 0)
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"filter too long ({len(text):,} characters; at most {MAX_FILTER_LENGTH:,})",
            text,
            MAX_FILTER_LENGTH,
        )
    parser = _Parser(text, utc_now() if now is None else now)
    predicate = parser.parse_filter()
    return Filter(text, list(parser.fields), predicate)


def parse_field(field: str) -> FieldPath:
    """Parse a field name as a filter writes it (`metrics.accuracy`, ``tags.`cost center` ``)."""
    if not isinstance(field, str) or len(field) > MAX_FILTER_LENGTH:
        shown = field if isinstance(field, str) else type(field).__name__
        raise FilterError("expected one field name, e.g. metrics.accuracy", str(shown), 0,
                          message=f"invalid field {shown!r}")
    return _parse_field_cached(field)


def field_value(doc: dict, field: str) -> object | None:
    """The raw value of `field` in a version document, None when it is missing.

    For `datasets.K` that is the dataset's URI.
    """
    return _getter(parse_field(field))(doc)


# --- tokens ---------------------------------------------------------------


class _Token:
    """One token: `kind` is word, string, key, op, (, ), "," or end."""

    # A plain class: a dataclass costs a millisecond of start-up, paid on every TAB.
    __slots__ = ("kind", "text", "start", "value")

    def __init__(self, kind: str, text: str, start: int, value: object = None) -> None:
        self.kind = kind
        self.text = text  # as written in the filter
        self.start = start
        self.value = value  # a string's content; a quoted key's (section, key)


def _tokenize(text: str) -> list[_Token]:
    """Split a filter into tokens, ending with an `end` token."""
    tokens: list[_Token] = []
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "(),":
            tokens.append(_Token(char, char, position))
            position += 1
        elif char in "'\"":
            token = _read_string(text, position)
            tokens.append(token)
            position += len(token.text)
        elif char in "<>=!":
            operator_text = next((op for op in _OPERATORS if text.startswith(op, position)), None)
            if operator_text is None:
                raise FilterError("unexpected character '!' (did you mean '!='?)", text, position)
            tokens.append(_Token("op", operator_text, position))
            position += len(operator_text)
        else:
            word = _WORD.match(text, position)
            if word is None:
                raise FilterError(_unexpected_character(char), text, position)
            if word.group().endswith(".") and text.startswith("`", word.end()):
                token = _read_quoted_key(text, position, word.group()[:-1], word.end())
                part = _KEY.match(text, position + len(token.text) + 1)
                if token.value[0] == "datasets" and text.startswith(".", position + len(token.text)) and part:
                    # datasets.`my set`.digest: the part read after the quoted key
                    token = _Token("key", text[position:part.end()], position, (*token.value, part.group()))
            else:
                token = _Token("word", word.group(), position)
            tokens.append(token)
            position += len(token.text)
    tokens.append(_Token("end", "", length))
    return tokens


def _unexpected_character(char: str) -> str:
    if char == "`":
        return "unexpected '`': backticks quote a key after a field, e.g. tags.`cost center`"
    if char in "%*":
        return f"unexpected character {char!r}: quote patterns, e.g. name like 'sent%'"
    return f"unexpected character {char!r}"


def _read_string(text: str, start: int) -> _Token:
    """A quoted string; a backslash escapes either quote or a backslash.

    Any other backslash is kept, so a `like` pattern can say `'100\\%'`.
    """
    quote = text[start]
    chars = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in "'\"\\":
            chars.append(text[position + 1])
            position += 2
        elif char == quote:
            return _Token("string", text[start : position + 1], start, "".join(chars))
        else:
            chars.append(char)
            position += 1
    raise FilterError(f"unterminated string: missing closing {quote}", text, start)


def _read_quoted_key(text: str, start: int, section: str, tick: int) -> _Token:
    """A field with a backtick-quoted key, ``tags.`cost center` ``; a doubled backtick is one."""
    chars = []
    position = tick + 1
    while position < len(text):
        char = text[position]
        if char == "`" and text.startswith("``", position):
            chars.append("`")
            position += 2
        elif char == "`":
            if not chars:
                raise FilterError("empty key between backticks", text, tick)
            return _Token("key", text[start : position + 1], start, (section, "".join(chars)))
        else:
            chars.append(char)
            position += 1
    raise FilterError("unterminated key: missing closing `", text, tick)


def _describe(token: _Token) -> str:
    """A token as an error message names it."""
    if token.kind == "end":
        return "the end of the filter"
    shown = token.text if len(token.text) <= 40 else token.text[:39] + "…"
    if token.kind == "string":
        return f"the string {shown}"
    return f"'{shown}'"


# --- parser ---------------------------------------------------------------


class _Literal:
    """A value in a filter, already in the form it is compared in.

    kind: "string", "number", "bool", "version" (a semver sort key) or
    "time" (a canonical UTC timestamp string, which orders as time does).
    """

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: object) -> None:
        self.kind = kind
        self.value = value


class _Parser:
    """Recursive descent over the tokens, building the predicate as it goes."""

    def __init__(self, text: str, now: datetime) -> None:
        self.text = text
        self.now = now
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.fields: dict[str, None] = {}  # an ordered set of the fields referenced

    # helpers

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def keyword(self) -> str | None:
        """The next token as a lower-case keyword, if it is a word."""
        token = self.peek()
        return token.text.lower() if token.kind == "word" else None

    def error(self, detail: str, token: _Token) -> FilterError:
        return FilterError(detail, self.text, token.start)

    def enter(self, token: _Token) -> None:
        """Count one more level of nesting, refusing filters nested absurdly deep."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"filter nested too deeply (more than {MAX_DEPTH} levels of parentheses and 'not')",
                token,
            )

    # grammar

    def parse_filter(self) -> _Node:
        if self.peek().kind == "end":
            return _always_true
        predicate = self.parse_or("")
        token = self.peek()
        if token.kind == ")":
            raise self.error("unmatched ')'", token)
        if token.kind != "end":
            raise self.error(
                f"expected 'and', 'or' or the end of the filter but found {_describe(token)}", token
            )
        return predicate

    def parse_or(self, after: str) -> _Node:
        operands = [self.parse_and(after)]
        while self.keyword() == "or":
            self.advance()
            operands.append(self.parse_and(" after 'or'"))
        return _any_of(operands)

    def parse_and(self, after: str) -> _Node:
        operands = [self.parse_not(after)]
        while self.keyword() == "and":
            self.advance()
            operands.append(self.parse_not(" after 'and'"))
        return _all_of(operands)

    def parse_not(self, after: str) -> _Node:
        token = self.peek()
        if self.keyword() == "not":
            self.advance()
            self.enter(token)
            operand = self.parse_not(" after 'not'")
            self.depth -= 1
            return _negation(operand)
        if token.kind == "(":
            self.advance()
            self.enter(token)
            inner = self.parse_or(" after '('")
            closing = self.peek()
            if closing.kind != ")":
                raise self.error(
                    f"expected ')' to close the '(' at column {token.start + 1} "
                    f"but found {_describe(closing)}",
                    closing,
                )
            self.advance()
            self.depth -= 1
            return inner
        if token.kind == "key" or (token.kind == "word" and self.keyword() not in _RESERVED):
            return self.parse_comparison()
        raise self.error(f"expected a field name{after} but found {_describe(token)}", token)

    def parse_comparison(self) -> _Node:
        field_token = self.advance()
        path = self.field(field_token)
        self.fields.setdefault(path.name, None)
        token = self.peek()
        if token.kind == "op":
            self.advance()
            operator_text = _OPERATOR_ALIASES.get(token.text, token.text)
            literal = self.value(path, f" after '{token.text}'")
            return _comparison(path, _test(operator_text, literal))
        negated = self.keyword() == "not"
        if negated:
            self.advance()
            token = self.peek()
            if self.keyword() not in ("like", "ilike", "in"):
                raise self.error(
                    f"expected 'like', 'ilike' or 'in' after 'not' but found {_describe(token)}", token
                )
        keyword = self.keyword()
        if keyword in ("like", "ilike"):
            self.advance()
            node = _comparison(path, _like_test(self.pattern(token), keyword == "ilike"))
        elif keyword == "in":
            self.advance()
            node = _comparison(path, _membership_test(self.value_list(path, token)))
        else:
            raise self.error(
                f"expected {_OPERATOR_HELP} after '{field_token.text}' but found {_describe(token)}",
                token,
            )
        return _negation(node) if negated else node

    def field(self, token: _Token) -> FieldPath:
        try:
            return _field_from_token(token)
        except FilterError as exc:
            raise FilterError(exc.detail, self.text, token.start + exc.position) from None

    def pattern(self, keyword_token: _Token) -> str:
        token = self.peek()
        if token.kind != "string":
            raise self.error(
                f"expected a quoted pattern after '{keyword_token.text}' "
                f"but found {_describe(token)}",
                token,
            )
        self.advance()
        return token.value

    def value_list(self, path: FieldPath, in_token: _Token) -> list[_Literal]:
        token = self.peek()
        if token.kind != "(":
            raise self.error(
                f"expected '(' after '{in_token.text}', as in ('a', 'b'), "
                f"but found {_describe(token)}",
                token,
            )
        opening = self.advance()
        values = [self.value(path, " in the list")]
        while True:
            token = self.peek()
            if token.kind == ")":
                self.advance()
                return values
            if token.kind != ",":
                raise self.error(
                    f"expected ',' or ')' in the list opened at column {opening.start + 1} "
                    f"but found {_describe(token)}",
                    token,
                )
            self.advance()
            if self.peek().kind == ")":  # a trailing comma is fine
                continue
            values.append(self.value(path, " after ','"))

    def value(self, path: FieldPath, after: str) -> _Literal:
        token = self.peek()
        if token.kind == "string" or (token.kind == "word" and self.keyword() not in _RESERVED):
            self.advance()
            return self.literal(path, token, after)
        raise self.error(f"expected a value{after} but found {_describe(token)}", token)

    def literal(self, path: FieldPath, token: _Token, after: str) -> _Literal:
        """Read a value as the field's type says; bare words by their shape."""
        text = token.value if token.kind == "string" else token.text
        if path.type == "version":
            version = _version_key(text)
            if version is None:
                raise self.error(
                    f"invalid version {text!r}: expected MAJOR.MINOR.PATCH such as 1.10.0", token
                )
            return _Literal("version", version)
        if path.type == "time":
            return _Literal("time", self.time(text, token))
        if path.type == "size":
            size = _parse_size(text)
            if size is None:
                raise self.error(
                    f"invalid size {text!r}: expected bytes or a number with a unit "
                    "such as 10MB, 1.5GiB or 512KiB",
                    token,
                )
            return _Literal("number", size)
        if token.kind == "string":
            return _Literal("string", text)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return _Literal("bool", lowered == "true")
        number = _parse_size(text)  # a plain number, or bytes with a unit
        if number is not None:
            return _Literal("number", number)
        if _TIME_WORD.fullmatch(text):
            return _Literal("time", self.time(text, token))
        version = _version_key(text)
        if version is not None:
            return _Literal("version", version)
        raise self.error(
            f"expected a value{after} but found {_describe(token)} "
            f"(quote text values, e.g. '{text}')",
            token,
        )

    def time(self, text: str, token: _Token) -> str:
        try:
            return format_time(parse_when(text, self.now))
        except UsageError as exc:
            # parse_when says "invalid time 'x': why"; keep it, positioned.
            raise self.error(exc.message, token) from None


# --- fields ---------------------------------------------------------------


@lru_cache(maxsize=256)
def _parse_field_cached(field: str) -> FieldPath:
    try:
        tokens = _tokenize(field)
        first = tokens[0]
        if len(tokens) != 2 or first.kind not in ("word", "key"):
            raise FilterError("expected one field name, e.g. metrics.accuracy", field, first.start)
        try:
            return _field_from_token(first)
        except FilterError as exc:  # positioned within the token: make it within `field`
            raise FilterError(exc.detail, field, first.start + exc.position) from None
    except FilterError as exc:
        # Not a filter, so not "syntax error at column N": name the field instead.
        raise FilterError(
            exc.detail, field, exc.position, message=f"invalid field {field!r}: {exc.detail}"
        ) from None


def _field_from_token(token: _Token) -> FieldPath:
    """The field a word or quoted-key token names; errors are relative to the token."""
    if token.kind == "key":
        section, key, *part = token.value
        if section not in SECTIONS:
            raise _unknown_field(section, token)
        if part:
            return _dataset_field(key, part[0], token, len(token.text) - len(part[0]))
        return _map_field(section, key)
    word = token.text
    if "." not in word:
        if word in SIMPLE_FIELDS:
            return FieldPath(word, type=_FIELD_TYPES.get(word, "any"))
        if word in SECTIONS:
            raise FilterError(f"field '{word}' needs a key, e.g. {word}.KEY", token.text, 0)
        raise _unknown_field(word, token)
    section, key = word.split(".", 1)
    if section in SIMPLE_FIELDS:
        raise FilterError(f"field '{section}' has no keys", token.text, 0)
    if section not in SECTIONS:
        raise _unknown_field(word, token)
    if not key:
        raise FilterError(f"expected a key after '{section}.'", token.text, len(word))
    if section == "datasets" and "." in key and _KEY.fullmatch(key.split(".", 1)[0]):
        key, part = key.split(".", 1)
        return _dataset_field(key, part, token, len(section) + len(key) + 2)
    if not _KEY.fullmatch(key):
        quoted = key.replace("`", "``")
        raise FilterError(
            f"invalid key {key!r} in '{word}': quote it with backticks, e.g. {section}.`{quoted}`",
            token.text,
            len(section) + 1,
        )
    return _map_field(section, key)


def _dataset_field(key: str, part: str, token: _Token, at: int) -> FieldPath:
    """`datasets.KEY.PART`: one part of a dataset (`at` is where PART starts in the token)."""
    if part not in DATASET_PARTS:
        raise FilterError(f"a dataset has no {part[:40]!r}: write datasets.KEY.{', datasets.KEY.'.join(DATASET_PARTS)}",
                          token.text, at)
    shown = _map_field("datasets", key).name
    return FieldPath(f"{shown}.{part}", "datasets", key, DATASET_PARTS[part], part)


def _map_field(section: str, key: str) -> FieldPath:
    # The canonical name reads back through parse_field, so it can name a column.
    shown = key if _KEY.fullmatch(key) else "`" + key.replace("`", "``") + "`"
    return FieldPath(f"{section}.{shown}", section, key)


def _unknown_field(name: str, token: _Token) -> FilterError:
    from difflib import get_close_matches  # only on this error path

    close = get_close_matches(name, SIMPLE_FIELDS + SECTIONS, n=1)
    if close:
        hint = f" (did you mean '{close[0]}'?)"
    elif _KEY.fullmatch(name):
        hint = f" (keys need a prefix, e.g. metrics.{name} or tags.{name})"
    else:
        hint = ""
    return FilterError(
        f"unknown field '{name}'{hint}; known fields: {_KNOWN_FIELDS_TEXT}", token.text, 0
    )


def _getter(path: FieldPath) -> Callable[[dict], object]:
    """A function reading the field's raw value from a version document, or None."""
    if path.section is None:
        name = path.name
        return lambda doc: doc.get(name)
    section, key = path.section, path.key
    if section == "datasets":
        if path.part and path.part != "uri":
            part = path.part
            return lambda doc: _dataset_part(doc, key, part)
        return lambda doc: _dataset_uri(doc, key)

    def get(doc: dict) -> object:
        entries = doc.get(section)
        return entries.get(key) if isinstance(entries, dict) else None

    return get


def _dataset_uri(doc: dict, key: str) -> object:
    """A dataset's URI; a dataset recorded as a bare string is its own URI."""
    datasets = doc.get("datasets")
    if not isinstance(datasets, dict):
        return None
    dataset = datasets.get(key)
    return dataset.get("uri") if isinstance(dataset, dict) else dataset


def _dataset_part(doc: dict, key: str, part: str) -> object:
    """One recorded part of a dataset (its digest, size or kind); None for a bare URI."""
    datasets = doc.get("datasets")
    dataset = datasets.get(key) if isinstance(datasets, dict) else None
    return dataset.get(part) if isinstance(dataset, dict) else None


# --- predicate nodes ------------------------------------------------------


def _always_true(doc: dict) -> bool:
    return True


def _comparison(path: FieldPath, test: Callable[[object], "bool | None"]) -> _Node:
    """A node applying `test` to the field's value; a missing value is UNKNOWN.

    The common shapes are written out, rather than built on `_getter`, to spare
    a function call per version on a hot path.
    """
    if path.section is None:
        name = path.name

        def node(doc: dict) -> bool | None:
            value = doc.get(name)
            return None if value is None else test(value)

    elif path.section != "datasets":
        section, key = path.section, path.key

        def node(doc: dict) -> bool | None:
            entries = doc.get(section)
            if not isinstance(entries, dict):
                return None
            value = entries.get(key)
            return None if value is None else test(value)

    else:
        get = _getter(path)

        def node(doc: dict) -> bool | None:
            value = get(doc)
            return None if value is None else test(value)

    return node


def _negation(operand: _Node) -> _Node:
    def node(doc: dict) -> bool | None:
        value = operand(doc)
        return None if value is None else not value

    return node


def _all_of(operands: list[_Node]) -> _Node:
    """Kleene `and`: FALSE if any is FALSE, else UNKNOWN if any is UNKNOWN, else TRUE."""
    if len(operands) == 1:
        return operands[0]

    # A flat loop, not nested pairs: a long chain of `and`s must not recurse.
    def node(doc: dict) -> bool | None:
        result: bool | None = True
        for operand in operands:
            value = operand(doc)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return node


def _any_of(operands: list[_Node]) -> _Node:
    """Kleene `or`: TRUE if any is TRUE, else UNKNOWN if any is UNKNOWN, else FALSE."""
    if len(operands) == 1:
        return operands[0]

    def node(doc: dict) -> bool | None:
        result: bool | None = False
        for operand in operands:
            value = operand(doc)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return node


# --- tests on one present value -------------------------------------------


def _test(operator_text: str, literal: _Literal) -> Callable[[object], "bool | None"]:
    """A test of a field value against a literal; UNKNOWN where they cannot compare.

    The literal's kind decides: a document value is brought to that kind
    (a string "0.9" to a number, "1.2.0" to a version…) or is incomparable.
    """
    compare = _COMPARE[operator_text]
    target = literal.value
    if literal.kind == "string":

        def test(value: object) -> bool | None:
            return compare(value, target) if isinstance(value, str) else None

    elif literal.kind == "number":

        def test(value: object) -> bool | None:
            kind = value.__class__
            if kind is float or kind is int:  # the common case, before the general one
                return compare(value, target)
            number = _as_number(value)
            return None if number is None else compare(number, target)

    else:
        coerce = _COERCE[literal.kind]

        def test(value: object) -> bool | None:
            coerced = coerce(value)
            return None if coerced is None else compare(coerced, target)

    return test


def _membership_test(literals: list[_Literal]) -> Callable[[object], "bool | None"]:
    """`in (...)`: `=` against each value, or-ed in three-valued logic, as SQL does."""
    if all(literal.kind == "string" for literal in literals):
        strings = frozenset(literal.value for literal in literals)
        return lambda value: (value in strings) if isinstance(value, str) else None
    tests = [_test("=", literal) for literal in literals]

    def test(value: object) -> bool | None:
        result: bool | None = False
        for equals in tests:
            outcome = equals(value)
            if outcome is True:
                return True
            if outcome is None:
                result = None
        return result

    return test


def _like_test(pattern: str, ignore_case: bool) -> Callable[[object], "bool | None"]:
    """SQL LIKE over the whole string: `%` any run, `_` one character, `\\` escapes.

    Matched without a backtracking regex, in time linear in the value (times
    the pattern's length): a regex takes minutes over `'%a%a%a%a%a%c'` and a
    long name, and names and tags may come from anyone's registry.
    """
    if ignore_case:
        matches = _segments_test(_like_segments(_fold(pattern)))
        return lambda value: matches(_fold(value)) if isinstance(value, str) else None
    segments = _like_segments(pattern)
    if len(segments) == 2 and not segments[0].wild and not segments[1].length:
        # `'sent%'`, the usual shape, without a second call per value.
        prefix = segments[0].text
        return lambda value: value.startswith(prefix) if isinstance(value, str) else None
    matches = _segments_test(segments)
    return lambda value: matches(value) if isinstance(value, str) else None


def _segments_test(segments: list["_Segment"]) -> Callable[[str], bool]:
    """The matcher for a split pattern; the usual shapes (`'sent%'`, `'%bert%'`…) as one string method."""
    first, last = segments[0], segments[-1]
    plain = not any(segment.wild for segment in segments)
    if plain and len(segments) == 1:
        return first.text.__eq__
    if plain and len(segments) == 2:
        prefix, suffix = first.text, last.text
        if not suffix:
            return lambda value: value.startswith(prefix)
        if not prefix:
            return lambda value: value.endswith(suffix)
    if plain and len(segments) == 3 and not first.length and not last.length:
        middle = segments[1].text
        return lambda value: middle in value
    return lambda value: _like_match(segments, value)


class _Segment:
    """The text between two `%` of a LIKE pattern; `_` stands for any one character."""

    __slots__ = ("length", "pieces", "wild", "text", "anchor")

    def __init__(self, chars: list) -> None:  # a character, or None for `_`
        self.length = len(chars)
        self.wild = None in chars
        self.text = "".join(char for char in chars if char is not None)
        # The runs of literal characters, each with its offset in the segment.
        self.pieces: list[tuple[int, str]] = []
        run_start = None
        for position, char in enumerate([*chars, None]):
            if char is None and run_start is not None:
                self.pieces.append((run_start, "".join(chars[run_start:position])))
                run_start = None
            elif char is not None and run_start is None:
                run_start = position
        # The longest run is searched for with str.find; the others are checked where it lands.
        self.anchor = max(self.pieces, key=lambda piece: len(piece[1])) if self.pieces else None

    def at(self, value: str, position: int) -> bool:
        """Whether the segment matches `value` at `position` (which leaves room for it)."""
        for offset, piece in self.pieces:
            if not value.startswith(piece, position + offset):
                return False
        return True

    def find(self, value: str, start: int, end: int) -> int:
        """The leftmost position from `start` where the segment matches and ends by `end`, or -1."""
        last = end - self.length
        if last < start:
            return -1
        if self.anchor is None:
            return start
        offset, piece = self.anchor
        while start <= last:
            # Each search starts past the previous hit, so the scans add up to one pass.
            hit = value.find(piece, start + offset, last + offset + len(piece))
            if hit < 0:
                return -1
            position = hit - offset
            if self.at(value, position):
                return position
            start = position + 1
        return -1


def _like_segments(pattern: str) -> list[_Segment]:
    """The pattern split at its unescaped `%`: always at least one segment."""
    segments: list[_Segment] = []
    chars: list = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\" and position + 1 < len(pattern):
            chars.append(pattern[position + 1])
            position += 2
            continue
        if char == "%":
            segments.append(_Segment(chars))
            chars = []
        else:  # `_` is any one character; a trailing lone backslash matches itself
            chars.append(None if char == "_" else char)
        position += 1
    segments.append(_Segment(chars))
    return segments


def _like_match(segments: list[_Segment], value: str) -> bool:
    """Greedy: the first segment at the start, the last at the end, each middle one leftmost.

    The leftmost place for a middle segment leaves the most room for the
    rest, so no other choice can succeed where it fails: no backtracking.
    """
    size = len(value)
    first = segments[0]
    if len(segments) == 1:
        return size == first.length and first.at(value, 0)
    last = segments[-1]
    end = size - last.length
    if first.length > end or not first.at(value, 0) or not last.at(value, end):
        return False
    position = first.length
    for segment in segments[1:-1]:
        found = segment.find(value, position, end)
        if found < 0:
            return False
        position = found + segment.length
    return True


class _CaseFolds(dict):
    """Each character's simple case fold, found on first use (one character for one, so `_` still counts one)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        upper = char.upper()
        folded = upper.lower() if len(upper) == 1 else char.lower()
        if len(folded) != 1:  # "İ" lowers to two characters: kept as it is
            folded = char
        self[code] = folded
        return folded


_CASE_FOLDS = _CaseFolds()


def _fold(text: str) -> str:
    """`ilike`'s view of a text: case folded character by character (σ, ς and Σ alike)."""
    return text.lower() if text.isascii() else text.translate(_CASE_FOLDS)


# --- bringing document values to a literal's kind -------------------------


def _as_number(value: object) -> float | int | None:
    """A number, or a string that reads as one; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower())
    return None


def _as_version(value: object) -> tuple | None:
    return _version_key(value) if isinstance(value, str) else None


def _as_time(value: object) -> str | None:
    """A timestamp as the canonical UTC string, whose order is time order."""
    if isinstance(value, str):
        if _CANONICAL_TIME.fullmatch(value):  # what mreg writes: no parsing needed
            return value
        try:
            return format_time(parse_time(value))
        except (UsageError, OverflowError):
            return None
    if isinstance(value, datetime):
        try:
            return format_time(value)
        except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
            return None
    return None


_COERCE = {"bool": _as_bool, "version": _as_version, "time": _as_time}


def _version_key(text: str) -> tuple | None:
    """Semver's ordering of `text` as a plain tuple (cheap to compare), or None.

    Plain releases (`1.10.0`), nearly every version in a registry, take a fast
    path: a search over 100,000 versions cannot afford a full parse of each.
    """
    parts = text.split(".")
    if len(parts) == 3 and text.isascii():
        major, minor, patch = parts
        if (
            major.isdigit()
            and minor.isdigit()
            and patch.isdigit()
            and (major[0] != "0" or major == "0")  # semver forbids leading zeros
            and (minor[0] != "0" or minor == "0")
            and (patch[0] != "0" or patch == "0")
            and len(text) <= 128
        ):
            return (int(major), int(minor), int(patch)) + _RELEASE_KEY_TAIL
    return _parsed_version_key(text)


@lru_cache(maxsize=65536)
def _parsed_version_key(text: str) -> tuple | None:
    try:
        return Version.parse(text).sort_key()
    except UsageError:
        return None


# Version.sort_key() is (major, minor, patch, *rest), with `rest` the same for every
# release; the fast path above builds it from this (tests hold the two in step).
_RELEASE_KEY_TAIL = Version(0, 0, 0).sort_key()[3:]


def _parse_size(text: str) -> int | float | None:
    """A number of bytes: a plain number, or one with an SI or IEC unit (`1.5GiB`)."""
    try:
        if _NUMBER.fullmatch(text):
            return int(text) if text.lstrip("+-").isdigit() else float(text)
        match = _SIZE.fullmatch(text)
        if match is None:
            return None
        whole, fraction, prefix = match.group(1), match.group(2) or "", match.group(3) or ""
        # Integer arithmetic, so 1.1MB is exactly 1100000 bytes, not 1100000.0000000002.
        scaled = int(whole + fraction) * _SIZE_PREFIXES[prefix.lower()]
        divisor = 10 ** len(fraction)
        return scaled // divisor if scaled % divisor == 0 else scaled / divisor
    except ValueError:  # int() refuses digit runs beyond sys.get_int_max_str_digits()
        return None
