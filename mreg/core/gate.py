"""Conditions on a move (`promote --if`, `transition --if`, `mreg check`): the filter
language of `mreg search` (mreg/core/query.py) plus two things a gate needs.

    metrics.auc > @production.metrics.auc and metrics.latency_ms <= @production.metrics.latency_ms * 1.1

- Operands `@SELECTOR.FIELD` read a field of another version of the same model:
  a stage (`@production`), a version (`@1.2.0`), an alias or `latest`.
- `+ - * /` on numbers, with the usual precedence and parentheses. `+` and `-`
  are written with spaces around them (`metrics.a - 0.01`): inside a word they
  belong to it (`1.2.0-rc.1`, `-7d`, `tags.model-id`).

Both sides of a comparison may be fields, so a gate is parsed into a small tree
rather than compiled into closures, and every comparison (a *clause*) reports
the values it saw. Evaluation is three-valued, as in a search: a missing field,
a selector that names no version (no production version yet) or a division by
zero make a clause UNKNOWN (None); `and`/`or` are Kleene's.

Grammar (on top of query.py's tokens; keywords are case-insensitive):

    gate       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum [op sum | ["not"] ("like" | "ilike") string | ["not"] "in" "(" values ")"]
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | "(" or_expr ")" | field | "@" SELECTOR "." field | value

A parenthesised group is a condition or a number, whichever it holds; the
parser checks that conditions meet `and`/`or`/`not` and numbers meet operators.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from mreg.core import query as q
from mreg.core.query import FieldPath, FilterError
from mreg.core.version import document
from mreg.errors import NotFoundError

# Fields that hold numbers, and so may take part in arithmetic.
_NUMERIC_FIELDS = ("size", "files", "parameters")
_NUMERIC_SECTIONS = ("metrics", "params")
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ANY = FieldPath("", type="any")
_SELECTOR_WORD = re.compile(r"[A-Za-z0-9_.:+\-]*", re.ASCII)

# --- tokens ---------------------------------------------------------------


def _tokenize(text: str) -> list[q._Token]:
    """query.py's tokens, plus arithmetic (`arith`) and `@SELECTOR.FIELD` operands (`at`)."""
    tokens: list[q._Token] = []
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "(),":
            tokens.append(q._Token(char, char, position))
            position += 1
        elif char in "*/":
            tokens.append(q._Token("arith", char, position))
            position += 1
        elif char == "@":
            token = _read_operand(text, position)
            tokens.append(token)
            position += len(token.text)
        elif char in "'\"":
            token = q._read_string(text, position)
            tokens.append(token)
            position += len(token.text)
        elif char in "<>=!":
            operator_text = next((op for op in q._OPERATORS if text.startswith(op, position)), None)
            if operator_text is None:
                raise FilterError("unexpected character '!' (did you mean '!='?)", text, position)
            tokens.append(q._Token("op", operator_text, position))
            position += len(operator_text)
        else:
            word = q._WORD.match(text, position)
            if word is None:
                raise FilterError(q._unexpected_character(char), text, position)
            if word.group() in ("+", "-"):
                token = q._Token("arith", word.group(), position)
            elif text.startswith("@", word.end()):
                raise _other_model(text, position, word.group() + "@…")
            elif word.group().endswith(".") and text.startswith("`", word.end()):
                token = q._read_quoted_key(text, position, word.group()[:-1], word.end())
            else:
                token = q._Token("word", word.group(), position)
            tokens.append(token)
            position += len(token.text)
    tokens.append(q._Token("end", "", length))
    return tokens


def _other_model(text: str, position: int, shown: str) -> FilterError:
    return FilterError(
        f"'{shown}' names another model: a condition reads versions of the model being moved, "
        "written @SELECTOR.FIELD (e.g. @production.metrics.auc)", text, position)


def _read_operand(text: str, start: int) -> q._Token:
    """`@SELECTOR.FIELD`: the token's value is (selector, FieldPath).

    A selector may hold dots (`@1.2.0.metrics.f1`): the split is the first dot
    after which a known field begins.
    """
    body = _SELECTOR_WORD.match(text, start + 1).group()
    end = start + 1 + len(body)
    if body.endswith(".") and text.startswith("`", end):  # @production.tags.`cost center`
        selector, _, section = body[:-1].rpartition(".")
        if selector:
            section_start = start + 1 + len(selector) + 1
            key = q._read_quoted_key(text, section_start, section, end)
            path = _field_at(key, text)
            return q._Token("at", text[start : section_start + len(key.text)], start, (selector, path))
    for dot in (i for i, char in enumerate(body) if char == "."):
        selector, field = body[:dot], body[dot + 1 :]
        if not selector or not field:
            continue
        try:
            path = q._field_from_token(q._Token("word", field, 0))
        except FilterError:
            continue
        return q._Token("at", text[start:end], start, (selector, path))
    if text.startswith(("/", "@"), end):
        model = re.match(r"[A-Za-z0-9_./-]*", text[start + 1 :]).group()
        raise _other_model(text, start, "@" + model + "…")
    raise FilterError("expected @SELECTOR.FIELD, such as @production.metrics.auc, @1.2.0.metrics.f1 "
                      "or @latest.size", text, start)


def _field_at(token: q._Token, text: str) -> FieldPath:
    try:
        return q._field_from_token(token)
    except FilterError as exc:
        raise FilterError(exc.detail, text, token.start + exc.position) from None


# --- the tree -------------------------------------------------------------


class _Node:
    """A part of the gate; `start` and `end` delimit its text."""

    __slots__ = ("start", "end")
    is_condition = False


class _Field(_Node):
    """A field of the version being moved (`selector` None) or of another version of its model."""

    __slots__ = ("path", "selector", "text")

    def __init__(self, token: q._Token, path: FieldPath, selector: str | None) -> None:
        self.start, self.end = token.start, token.start + len(token.text)
        self.path, self.selector, self.text = path, selector, token.text


class _Value(_Node):
    """A value written in the gate; read (`literal`) once the other side of its comparison is known."""

    __slots__ = ("token", "literal")

    def __init__(self, token: q._Token) -> None:
        self.start, self.end = token.start, token.start + len(token.text)
        self.token = token
        self.literal: q._Literal | None = None


class _Arithmetic(_Node):
    __slots__ = ("operator", "left", "right")

    def __init__(self, operator: str, left: _Node | None, right: _Node, start: int) -> None:
        self.operator, self.left, self.right = operator, left, right  # left None: unary minus
        self.start, self.end = start, right.end


class _Clause(_Node):
    """One comparison; `test` applies the operator to the left side's value, when the right is fixed."""

    __slots__ = ("left", "operator", "right", "test")
    is_condition = True

    def __init__(self, left: _Node, operator: str, right: _Node | None, end: int,
                 test: Callable[[object], "bool | None"] | None = None) -> None:
        self.left, self.operator, self.right, self.test = left, operator, right, test
        self.start, self.end = left.start, end


class _Logic(_Node):
    __slots__ = ("kind", "operands")
    is_condition = True

    def __init__(self, kind: str, operands: list[_Node], start: int) -> None:
        self.kind, self.operands = kind, operands  # kind: and, or, not
        self.start, self.end = start, operands[-1].end


class _Group(_Node):
    """Parentheses around a condition or a number: the text keeps them, the meaning is the inner node's."""

    __slots__ = ("inner",)

    def __init__(self, inner: _Node, start: int, end: int) -> None:
        self.inner, self.start, self.end = inner, start, end

    @property
    def is_condition(self) -> bool:  # type: ignore[override]
        return self.inner.is_condition


def _unwrap(node: _Node) -> _Node:
    while isinstance(node, _Group):
        node = node.inner
    return node


# --- parser ---------------------------------------------------------------


class Gate:
    """A parsed condition; `evaluate` reads it against a model's versions."""

    __slots__ = ("text", "_root")

    def __init__(self, text: str, root: _Node) -> None:
        self.text = text
        self._root = root

    def __repr__(self) -> str:
        return f"Gate({self.text!r})"

    def evaluate(self, model: dict, version: str, resolve: Callable[[dict, str], str]) -> dict:
        """The gate's result for `version` of `model`: a plain dict (docs/json.md, "conditions").

        `resolve(model, selector)` names the version a `@SELECTOR` reads (the
        registry's own resolver, so stages, versions, `latest` and aliases
        all work); when it raises NotFoundError the operand is unknown.
        """
        run = _Evaluation(self.text, model, version, resolve)
        result = run.condition(self._root)
        return {"condition": self.text, "name": model["name"], "version": version, "result": result,
                "clauses": run.clauses, "versions": run.seen}


def compile_gate(text: str, now: datetime | None = None) -> Gate:
    """Parse a condition; FilterError (exit 2), with the fault's position, for anything malformed."""
    if not isinstance(text, str):
        raise FilterError(f"a condition is text, not {type(text).__name__}", "", 0)
    if len(text) > q.MAX_FILTER_LENGTH:
        raise FilterError(f"condition too long ({len(text):,} characters; at most {q.MAX_FILTER_LENGTH:,})",
                          text, q.MAX_FILTER_LENGTH)
    parser = _GateParser(text, q.utc_now() if now is None else now)
    return Gate(text, parser.parse_gate())


class _GateParser(q._Parser):
    """query.py's parser (its helpers and the reading of values), over a gate's grammar."""

    def __init__(self, text: str, now: datetime) -> None:  # noqa: D107 - query's, with this tokenizer
        self.text = text
        self.now = now
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.fields: dict[str, None] = {}

    def parse_gate(self) -> _Node:
        token = self.peek()
        if token.kind == "end":
            raise self.error("empty condition: expected e.g. metrics.auc > @production.metrics.auc", token)
        node = self.condition(self.parse_or(""))
        token = self.peek()
        if token.kind == ")":
            raise self.error("unmatched ')'", token)
        if token.kind != "end":
            raise self.error(f"expected 'and', 'or' or the end of the condition but found {_describe(token)}",
                             token)
        return node

    def condition(self, node: _Node) -> _Node:
        """`node` where a condition must stand: a bare number or field is refused."""
        if not node.is_condition:
            found = self.tokens[self.index]
            raise self.error(f"expected {q._OPERATOR_HELP} after '{self.text[node.start:node.end]}' "
                             f"but found {_describe(found)}", found)
        return node

    def parse_or(self, after: str) -> _Node:
        operands = [self.parse_and(after)]
        while self.keyword() == "or":
            self.condition(operands[-1])
            self.advance()
            operands.append(self.condition(self.parse_and(" after 'or'")))
        return operands[0] if len(operands) == 1 else _Logic("or", operands, operands[0].start)

    def parse_and(self, after: str) -> _Node:
        operands = [self.parse_not(after)]
        while self.keyword() == "and":
            self.condition(operands[-1])
            self.advance()
            operands.append(self.condition(self.parse_not(" after 'and'")))
        return operands[0] if len(operands) == 1 else _Logic("and", operands, operands[0].start)

    def parse_not(self, after: str) -> _Node:
        token = self.peek()
        if self.keyword() == "not":
            self.advance()
            self.enter(token)
            operand = self.condition(self.parse_not(" after 'not'"))
            self.depth -= 1
            return _Logic("not", [operand], token.start)
        return self.parse_comparison_or_value(after)

    def parse_comparison_or_value(self, after: str) -> _Node:
        left = self.parse_sum(after)
        token = self.peek()
        keyword = self.keyword()
        if token.kind != "op" and keyword not in ("not", "like", "ilike", "in"):
            return left  # a parenthesised condition, or a number inside parentheses
        if left.is_condition:
            raise self.error(f"expected 'and', 'or' or ')' but found {_describe(token)}", token)
        if token.kind == "op":
            self.advance()
            operator = q._OPERATOR_ALIASES.get(token.text, token.text)
            right = self.parse_sum(f" after '{token.text}'")
            if right.is_condition:
                raise self.error(f"expected a value after '{token.text}' but found a condition", token)
            self.settle(left, right)
            return _Clause(left, operator, right, right.end)
        negated = keyword == "not"
        if negated:
            self.advance()
            token = self.peek()
            keyword = self.keyword()
            if keyword not in ("like", "ilike", "in"):
                raise self.error(f"expected 'like', 'ilike' or 'in' after 'not' but found {_describe(token)}",
                                 token)
        self.advance()
        path = self.path_of(left)
        self.settle(left, None)
        if keyword in ("like", "ilike"):
            test = q._like_test(self.pattern(token), keyword == "ilike")
        else:
            test = q._membership_test(self.value_list(path, token))
        end = self.tokens[self.index - 1]
        clause = _Clause(left, ("not " if negated else "") + keyword, None, end.start + len(end.text), test)
        return _Logic("not", [clause], clause.start) if negated else clause

    def parse_sum(self, after: str) -> _Node:
        return self.chain("+-", self.parse_term, after)

    def parse_term(self, after: str) -> _Node:
        return self.chain("*/", self.parse_unary, after)

    def chain(self, operators: str, operand, after: str) -> _Node:
        """`a + b - c`, left to right; each operator is a level of the tree, counted as nesting."""
        depth = self.depth
        node = operand(after)
        while self.peek().kind == "arith" and self.peek().text in operators:
            operator = self.advance()
            self.enter(operator)
            node = self.arithmetic(operator, node, operand(f" after '{operator.text}'"))
        self.depth = depth
        return node

    def enter(self, token: q._Token) -> None:
        """One more level of nesting: parentheses, `not`, unary minus and each arithmetic operator."""
        self.depth += 1
        if self.depth > q.MAX_DEPTH:
            raise self.error(f"condition nested too deeply (more than {q.MAX_DEPTH} levels of parentheses, "
                             "'not' and arithmetic)", token)

    def parse_unary(self, after: str) -> _Node:
        token = self.peek()
        if token.kind == "arith" and token.text == "-":
            self.advance()
            self.enter(token)
            operand = self.parse_unary(" after '-'")
            self.depth -= 1
            self.number(operand, token)
            return _Arithmetic("-", None, operand, token.start)
        if token.kind == "(":
            self.advance()
            self.enter(token)
            inner = self.parse_or(" after '('")
            closing = self.peek()
            if closing.kind != ")":
                raise self.error(f"expected ')' to close the '(' at column {token.start + 1} "
                                 f"but found {_describe(closing)}", closing)
            self.advance()
            self.depth -= 1
            return _Group(inner, token.start, closing.start + 1)
        if token.kind == "at":
            self.advance()
            selector, path = token.value
            self.fields.setdefault(path.name, None)
            return _Field(token, path, selector)
        if token.kind == "key":
            self.advance()
            path = self.field(token)
            self.fields.setdefault(path.name, None)
            return _Field(token, path, None)
        if token.kind == "string":
            self.advance()
            return _Value(token)
        if token.kind == "word" and self.keyword() not in q._RESERVED:
            self.advance()
            try:
                path = q._field_from_token(token)
            except FilterError:
                if not _looks_like_value(token.text):
                    raise self.field_error(token) from None
                return _Value(token)
            self.fields.setdefault(path.name, None)
            return _Field(token, path, None)
        raise self.error(f"expected a field or a value{after} but found {_describe(token)}", token)

    def field_error(self, token: q._Token) -> FilterError:
        try:
            self.field(token)
        except FilterError as exc:
            if "+" in token.text or "-" in token.text[1:]:
                return FilterError(exc.detail + " (write spaces around + and -)", self.text, exc.position)
            return exc
        raise AssertionError("unreachable")  # pragma: no cover

    # arithmetic and the reading of values

    def arithmetic(self, operator: q._Token, left: _Node, right: _Node) -> _Arithmetic:
        for side in (left, right):
            self.number(side, operator)
        return _Arithmetic(operator.text, left, right, left.start)

    def number(self, node: _Node, operator: q._Token) -> None:
        """Refuse (exit 2) anything arithmetic cannot take: a condition, text, a version or a time."""
        inner = _unwrap(node)
        shown = self.text[node.start:node.end]
        if inner.is_condition:
            raise FilterError(f"'{operator.text}' needs numbers, not a condition", self.text, node.start)
        if isinstance(inner, _Value):
            self.read(inner, _ANY)
            if inner.literal.kind != "number":
                what = "text" if inner.literal.kind == "string" else f"a {inner.literal.kind}"
                raise FilterError(f"arithmetic on {what}: '{operator.text}' needs numbers, and {shown} is {what}",
                                  self.text, node.start)
        elif isinstance(inner, _Field):
            path = inner.path
            if path.section not in _NUMERIC_SECTIONS and path.name not in _NUMERIC_FIELDS:
                what = {"version": "a version", "time": "a time"}.get(path.type, "text")
                raise FilterError(f"arithmetic on {what}: '{operator.text}' needs numbers, and {shown} is {what}",
                                  self.text, node.start)

    def path_of(self, node: _Node) -> FieldPath:
        """The field a side of a comparison is, which decides how a value on the other side reads."""
        inner = _unwrap(node)
        return inner.path if isinstance(inner, _Field) else _ANY

    def settle(self, left: _Node, right: _Node | None) -> None:
        """Read the values of a comparison, each as the field on the other side says."""
        for side, other in ((left, right), (right, left)):
            inner = _unwrap(side) if side is not None else None
            if isinstance(inner, _Value) and inner.literal is None:
                self.read(inner, self.path_of(other) if other is not None else _ANY)

    def read(self, value: _Value, path: FieldPath) -> None:
        if value.literal is None:
            value.literal = self.literal(path, value.token, "")


def _looks_like_value(text: str) -> bool:
    lowered = text.lower()
    return (lowered in ("true", "false") or q._parse_size(text) is not None or bool(q._TIME_WORD.fullmatch(text))
            or q._version_key(text) is not None)


def _describe(token: q._Token) -> str:
    if token.kind == "end":
        return "the end of the condition"
    return q._describe(token)


# --- evaluation -----------------------------------------------------------


class _Evaluation:
    """One reading of a gate: the clauses' values and results, in the order met."""

    def __init__(self, text: str, model: dict, version: str, resolve: Callable[[dict, str], str]) -> None:
        self.text = text
        self.model = model
        self.resolve = resolve
        self.docs: dict[str | None, dict | None] = {None: document(model["name"], model["versions"][version])}
        self.seen: dict[str, str | None] = {}  # selector -> the version it named (None: none)
        self.notes: dict[str, str] = {}  # selector -> why it named none
        self.clauses: list[dict] = []

    def doc(self, selector: str | None) -> dict | None:
        if selector not in self.docs:
            try:
                version = self.resolve(self.model, selector)
            except NotFoundError as exc:
                self.docs[selector] = None
                self.seen[selector] = None
                self.notes[selector] = exc.message
            else:
                self.docs[selector] = document(self.model["name"], self.model["versions"][version])
                self.seen[selector] = version
        return self.docs[selector]

    def condition(self, node: _Node) -> bool | None:
        node = _unwrap(node)
        if isinstance(node, _Clause):
            return self.clause(node)
        # Every operand is read, even after the answer is known, so each clause reports its values.
        results = [self.condition(operand) for operand in node.operands]
        if node.kind == "not":
            return None if results[0] is None else not results[0]
        if node.kind == "and":
            return False if False in results else None if None in results else True
        return True if True in results else None if None in results else False

    def clause(self, node: _Clause) -> bool | None:
        values: dict[str, object] = {}
        left = self.value(node.left, values)
        if node.test is not None:
            result = None if left is None else node.test(left)
        else:
            right = self.value(node.right, values)
            result = _compare(node.operator, node.left, node.right, left, right)
        self.clauses.append({"clause": self.text[node.start:node.end], "values": values, "result": result,
                             "line": self.line(node, values, result)})
        return result

    def value(self, node: _Node, values: dict) -> object:
        node = _unwrap(node)
        if isinstance(node, _Value):
            return node.literal.value
        if isinstance(node, _Field):
            doc = self.doc(node.selector)
            value = None if doc is None else q._getter(node.path)(doc)
            values[node.text] = value
            return value
        right = q._as_number(self.value(node.right, values))
        if node.left is None:
            return None if right is None else -right
        left = q._as_number(self.value(node.left, values))
        if left is None or right is None:
            return None
        if node.operator == "/":
            return None if right == 0 else left / right  # division by zero: unknown, as SQL's NULL
        return left + right if node.operator == "+" else left - right if node.operator == "-" else left * right

    def line(self, node: _Clause, values: dict, result: bool | None) -> str:
        """The clause as written, each field followed by the value it had: `metrics.auc 0.912 > 0.9: true`."""
        pieces, position = [], node.start
        for field in _fields_in(node):
            pieces.append(self.text[position:field.end])
            pieces.append(" " + self.shown(field, values.get(field.text)))
            position = field.end
        pieces.append(self.text[position:node.end])
        return "".join(pieces) + ": " + _RESULT_WORDS[result]

    def shown(self, field: _Field, value: object) -> str:
        if field.selector is not None and self.docs.get(field.selector) is None:
            return f"(none: {self.notes.get(field.selector, 'no such version')})"
        return show_value(value)


_RESULT_WORDS = {True: "true", False: "false", None: "unknown"}


def result_word(result: bool | None) -> str:
    """true, false or unknown."""
    return _RESULT_WORDS[result]


def show_value(value: object) -> str:
    """A value as a clause line shows it: numbers as written, text quoted, a missing value named."""
    if value is None:
        return "(missing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _fields_in(node: _Node) -> list[_Field]:
    """The fields of a clause, in the order written (an explicit stack: parentheses may nest deep)."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, _Field):
            found.append(current)
        elif isinstance(current, _Group):
            stack.append(current.inner)
        elif isinstance(current, _Arithmetic):
            stack.extend(side for side in (current.right, current.left) if side is not None)
        elif isinstance(current, _Clause):
            stack.extend(side for side in (current.right, current.left) if side is not None)
    return found


def _compare(operator: str, left_node: _Node, right_node: _Node, left: object, right: object) -> bool | None:
    """Compare two values; the kind of comparison comes from a written value or the fields' types."""
    if left is None or right is None:
        return None
    left_node, right_node = _unwrap(left_node), _unwrap(right_node)
    if isinstance(right_node, _Value):
        return q._test(operator, right_node.literal)(left)
    if isinstance(left_node, _Value):
        return q._test(_FLIPPED[operator], left_node.literal)(right)
    compare = q._COMPARE[operator]
    kinds = {_kind(left_node), _kind(right_node)} - {"any"}
    kind = kinds.pop() if len(kinds) == 1 else "any" if not kinds else None
    if kind is None:  # a version against a time, say: nothing to compare
        return None
    if kind in ("version", "time"):
        coerce = q._COERCE[kind]
        a, b = coerce(left), coerce(right)
    elif kind == "number":
        a, b = q._as_number(left), q._as_number(right)
    else:
        a, b = q._as_number(left), q._as_number(right)
        if a is None or b is None:
            a, b = (left, right) if isinstance(left, str) and isinstance(right, str) else (
                (left, right) if isinstance(left, bool) and isinstance(right, bool) else (None, None))
    return None if a is None or b is None else compare(a, b)


def _kind(node: _Node) -> str:
    if isinstance(node, _Arithmetic):
        return "number"
    if isinstance(node, _Field):
        return {"size": "number"}.get(node.path.type, node.path.type)
    return "any"
