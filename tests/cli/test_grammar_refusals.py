"""scripts/generate_grammar.py refuses what the fast path could not run exactly as typer does;
and for what it accepts, the fast path passes a body the values typer passes.

Each declaration here is a real typer command (built by typer, as the app's
are); the generator's checks read it as they read the app's. No
`from __future__ import annotations`: typer reads these annotations at run time.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import pytest
import typer

from mreg.cli.commands import body_of, calling, command

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import generate_grammar  # noqa: E402


def good_body(ref: str, limit: Optional[int] = None, tag: list[str] = [], json: bool = False, repo: Optional[str] = None):
    pass


def _good(body):
    """A declaration run by `body`."""

    def good(
        ref: Annotated[str, typer.Argument()],
        limit: Annotated[Optional[int], typer.Option("--limit", "-n")] = None,
        tag: Annotated[list[str], typer.Option("--tag")] = [],
        json: Annotated[bool, typer.Option("--json")] = False,
        repo: Annotated[Optional[str], typer.Option("--repo")] = None,
    ):
        """A command the fast path runs."""

    return command(body)(good)


def _built(declaration):
    app = typer.Typer(add_completion=False)
    app.command()(calling(declaration, body_of(declaration)))
    return app.registered_commands[0], typer.main.get_command(app)


def _refusal(declaration, name="x") -> str:
    info, cmd = _built(declaration)
    with pytest.raises(generate_grammar.Refused) as caught:
        generate_grammar._body(name, info, cmd)
    return str(caught.value)


def test_a_matching_body_is_recorded():
    info, cmd = _built(_good(good_body))
    assert generate_grammar._body("good", info, cmd) == (__name__, "good_body")


def renamed(ref: str, max_count: Optional[int] = None, tag: list[str] = [], json: bool = False, repo: Optional[str] = None):
    pass


def reordered(limit: Optional[int] = None, ref: str = ..., tag: list[str] = [], json: bool = False, repo: Optional[str] = None):
    pass


def other_default(ref: str, limit: Optional[int] = 10, tag: list[str] = [], json: bool = False, repo: Optional[str] = None):
    pass


def other_type(ref: str, limit: Optional[int] = None, tag: list[str] = [], json: int = 0, repo: Optional[str] = None):
    pass


def defaulted(ref: str = "x", limit: Optional[int] = None, tag: list[str] = [], json: bool = False, repo: Optional[str] = None):
    pass


def requiring(ref: str, limit: Optional[int], tag: list[str] = [], json: bool = False, repo: Optional[str] = None):
    pass


@pytest.mark.parametrize("body, words", [
    (renamed, ["takes (ref, max_count, tag, json, repo)", "the declaration (ref, limit, tag, json, repo)"]),
    (reordered, ["takes (limit, ref, tag, json, repo)"]),
    (other_default, ["parameter limit has the default None, the body's is 10"]),
    (other_type, ["parameter json has the default False, the body's is 0"]),
    (defaulted, ["parameter ref is required, but the body gives it the default 'x'"]),
    (requiring, ["parameter limit has the default None, but the body requires it"]),
])
def test_a_body_that_differs_from_its_declaration_is_refused(body, words):
    message = _refusal(_good(body), name="good")
    assert message.startswith("good: ")
    for word in words:
        assert word in message


class Colour(str, Enum):
    red = "red"


def any_body(value=None):
    pass


def _with(annotation):
    def declaration(value: annotation = None):
        """One parameter."""

    return command(any_body)(declaration)


@pytest.mark.parametrize("annotation, words", [
    (Annotated[Optional[str], typer.Option("--value", envvar="VALUE")], "reads the environment variable VALUE"),
    (Annotated[Optional[str], typer.Option("--value", callback=lambda v: v)], "has a callback"),
    (Annotated[Optional[str], typer.Option("--value", is_eager=True)], "is eager"),
    (Annotated[Optional[Colour], typer.Option("--value")], "of a type the fast path does not convert (TyperChoice"),
    (Annotated[Optional[int], typer.Option("--value", min=0)], "of a type the fast path does not convert"),
    (Annotated[Optional[list[int]], typer.Option("--value")], "of a type the fast path does not convert"),
    (Annotated[int, typer.Option("--value", "-v", count=True)], "of a type the fast path does not convert"),
])
def test_a_parameter_the_fast_path_cannot_read_is_refused(annotation, words):
    message = _refusal(_with(annotation), name="odd")
    assert message.startswith("odd: parameter value ") and words in message, message


def many_body(names=None, last=None):
    pass


@command(many_body)
def many(names: Annotated[Optional[list[str]], typer.Argument()] = None,
         last: Annotated[Optional[str], typer.Argument()] = None):
    """Any number of names, then one more."""


def test_any_number_of_words_before_another_argument_is_refused():
    assert "not the last one" in _refusal(many)


def test_a_command_without_a_body_is_refused():
    info, cmd = _built(_good(None))
    with pytest.raises(generate_grammar.Refused, match="good: no body"):
        generate_grammar._body("good", info, cmd)


def optional_tags_body(tag: Optional[list[str]] = None, names: Optional[list[str]] = None):
    print(repr((tag, names)))


@command(optional_tags_body)
def optional_tags(tag: Annotated[Optional[list[str]], typer.Option("--tag")] = None,
                  names: Annotated[Optional[list[str]], typer.Argument()] = None):
    """Options and arguments not given are what typer passes: the declared default."""


@pytest.mark.parametrize("words", [[], ["--tag", "a", "--tag=b"], ["x", "y"]])
def test_the_fast_path_passes_what_typer_passes(capsys, words):
    from mreg.cli import fast

    info, cmd = _built(optional_tags)
    cmd.main(args=words, standalone_mode=False)
    by_typer = capsys.readouterr().out
    spec = {"options": {"--tag": ("tag", "list", None)}, "flags": {},
            "arguments": [("names", -1, False, None)]}
    values, positional = fast._parse(spec, words)
    optional_tags_body(**values, **fast._bind(spec["arguments"], positional))
    assert capsys.readouterr().out == by_typer
