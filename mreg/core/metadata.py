"""Version metadata: `K=V` options, metadata files, and the limits on both.

Limits (beyond any of them the input is refused with exit 2, and
whatever is accepted round-trips exactly):

- the metadata of one version, as compact JSON: at most 1 MiB;
- nesting: at most 32 levels of objects and arrays;
- keys: 1 to 256 characters, no control characters;
- integers: at most 64 digits; other numbers must be finite (no NaN/Infinity);
- text: valid Unicode (files must be UTF-8); JSON objects with duplicate keys are refused.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat

from mreg.core.fsutil import kind_of, open_for_reading
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.core.version import SECTIONS, TEXT_FIELDS  # noqa: F401 - named from here by the operations
from mreg.errors import UsageError

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_KEY = 256
MAX_INT_DIGITS = 64


def _check_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise UsageError(f"invalid key {key!r} in {where}: keys must be non-empty text")
    check_text(key, f"a key in {where}")
    if len(key) > MAX_KEY:
        raise UsageError(f"key in {where} is longer than {MAX_KEY} characters ({len(key)})")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise UsageError(f"key {key[:40]!r} in {where} holds control characters")
    return key


def check_value(value: object, where: str, depth: int = 0) -> object:
    """Validate a JSON-like value against the limits, recursively (iteratively deep enough)."""
    if depth > MAX_DEPTH:
        raise UsageError(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) >= 10**MAX_INT_DIGITS:
            raise UsageError(f"integer in {where} has more than {MAX_INT_DIGITS} digits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"{where} holds {value!r}: numbers must be finite")
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{where} holds text that is not valid Unicode") from None
        return value
    if isinstance(value, list):
        return [check_value(item, where, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_check_key(k, where): check_value(v, f"{where}.{k}", depth + 1) for k, v in value.items()}
    raise UsageError(f"{where} holds a value of unsupported type {type(value).__name__}")


def check_size(document: dict, where: str = "metadata") -> None:
    size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_BYTES:
        raise UsageError(f"{where} is {size} bytes as JSON; the limit is {MAX_BYTES} (1 MiB)")


# A number as people write one: ASCII digits, optional sign, fraction and
# exponent. Python's int()/float() also take "1_000", "١٢" (non-ASCII digits),
# "nan" and "infinity", none of which a metric should silently become.
# (`\d+(?:\.\d*)?`, not `\d+\.?\d*`: two runs of digits side by side make a
# regex try every split of a long number, quadratic time on `-m x=111…1x`.)
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*\Z", re.ASCII)
_INTEGER = re.compile(r"\s*[+-]?\d+\s*\Z", re.ASCII)


def parse_number(text: str, where: str) -> int | float:
    """A finite number written on the command line."""
    if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise UsageError(f"{where} must be a finite number, got {text!r}")
    if not _NUMBER.match(text):
        raise UsageError(f"{where} must be a number, got {text!r}")
    try:
        value: int | float = int(text) if _INTEGER.match(text) else float(text)
    except ValueError:  # an integer past Python's digit limit
        raise UsageError(f"{where} must be a number of at most {MAX_INT_DIGITS} digits, got {text[:40]!r}…") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{where} must be a finite number, got {text!r}")
    if _underflows(text, value):
        raise UsageError(f"{where} is too small for a number: {text.strip()!r} would be stored as 0.0")
    return check_value(value, where)  # type: ignore[return-value]


def _underflows(text: str, value: object) -> bool:
    """A literal with a nonzero digit that a float can only hold as zero (1e-400)."""
    if value != 0 or not isinstance(value, float):
        return False
    mantissa = text.strip().lstrip("+-").partition("e")[0].partition("E")[0]
    return any(digit in mantissa for digit in "123456789")


def _parse_float(text: str) -> float:
    """A float in a metadata file, refusing one that would silently become 0.0."""
    value = float(text)
    if _underflows(text, value):
        raise UsageError(f"{text[:40]} is too small for a number: it would be stored as 0.0")
    return value


def parse_scalar(text: str) -> object:
    """A param value from the command line: a number or true/false if it reads as one, else text."""
    if text in ("true", "false"):
        return text == "true"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and (not math.isfinite(value) or _underflows(text, value)):
            return text  # kept as written rather than as a number it is not
        return value
    return text


def split_pair(text: str, parameter: str, *, value_required: bool = True) -> tuple[str, str]:
    """Split `K=V` given for `parameter` (metrics, params, tags, datasets); the key is validated like any metadata key."""
    option = spelled(parameter)
    key, eq, value = text.partition("=")
    if not eq and value_required:
        raise UsageError(f"{option} expects KEY=VALUE, got {text!r}")
    return _check_key(key.strip(), option), value


def _typed_value(section: str, key: str, value: object) -> object:
    """A value given as data (a dict from the Python API), checked as its section requires."""
    if section == "metrics":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"metric {key!r} must be a number, got {value!r}")
        return check_value(value, f"metric {key!r}")
    if section == "tags":
        if not isinstance(value, str):
            raise UsageError(f"tag {key!r} must be text, got {value!r}")
        return check_value(value, f"tag {key!r}")
    return check_value(value, f"param {key!r}")


def option_pairs(metrics=(), params=(), tags=()) -> list[tuple[str, str, object]]:
    """(section, key, value) from -m/-p/-t.

    Each is a list of `K=V` strings (the command line: metrics parsed as
    numbers, params as numbers or true/false where they read as one) or a
    dict of typed values (the Python API: `metrics={"accuracy": 0.93}`).
    """
    pairs: list[tuple[str, str, object]] = []
    for section, items in zip(("metrics", "params", "tags"), (metrics, params, tags)):
        if isinstance(items, dict):
            pairs += [(section, _check_key(k, spelled(section)), _typed_value(section, k, v)) for k, v in items.items()]
            continue
        for item in key_value_items(items, section):
            key, text = split_pair(item, section, value_required=section != "tags")
            check_text(text, f"{spelled(section)} {key}")
            if section == "metrics":
                value: object = parse_number(text, f"metric {key!r}")
            elif section == "params":
                value = parse_scalar(text)
            else:
                value = text
            pairs.append((section, key, value))
    return pairs


def key_value_items(items, parameter: str) -> list[str]:
    """`items` given as a list of `K=V` strings, checked to be one."""
    if isinstance(items, (str, bytes)):
        raise UsageError(f"{spelled(parameter)} takes a dict or a list of KEY=VALUE strings, not one string {items!r}")
    items = list(items)
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"{spelled(parameter)} takes a dict or a list of KEY=VALUE strings, not {item!r}")
    return items


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise UsageError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise UsageError(f"{name} is not allowed: numbers must be finite")


def loads_strict(data: bytes, where: str) -> object:
    """Parse JSON refusing duplicate keys, NaN/Infinity, invalid UTF-8 and absurd depth."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant,
                          parse_float=_parse_float)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    except RecursionError:
        raise UsageError(f"{where} is nested too deeply (limit {MAX_DEPTH})") from None
    except ValueError as exc:  # also int conversions past Python's digit limit
        raise UsageError(f"{where} is not valid JSON: {exc}") from None


def _jsonable_toml(value: object) -> object:
    import datetime

    if isinstance(value, (datetime.datetime, datetime.time)) and value.utcoffset() == datetime.timedelta(0):
        # Keep a UTC time as TOML users write it (…Z), not as …+00:00.
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable_toml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable_toml(v) for v in value]
    return value


# A TOML table header on a line of its own: `[metrics]`, `[[runs]]`, `[a."b c"]`, maybe a comment after it.
_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_TABLE_HEADER = re.compile(rf"""\[\[?[ \t]*{_TOML_KEY}(?:[ \t]*\.[ \t]*{_TOML_KEY})*[ \t]*\]\]?[ \t]*(?:#.*)?""")


def _looks_like_toml(data: bytes) -> bool:
    """A file with neither suffix: JSON if it opens with `{`, TOML otherwise.

    `[` opens a TOML table header (`[metrics]`) as often as a JSON array;
    the first line tells them apart (and an array is no metadata file anyway).
    """
    text = data.lstrip()
    if text[:1] == b"{":
        return False
    if text[:1] != b"[":
        return True
    first = text.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    return _TABLE_HEADER.fullmatch(first) is not None


def load_metadata_file(path: str) -> dict:
    """Read a JSON or TOML metadata file (by suffix; else sniffed) into a plain dict."""
    path = os.fspath(path)
    try:
        fd, info = open_for_reading(path)  # a FIFO is refused, not waited on
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"metadata file {path} is {kind_of(info.st_mode)}, not a regular file")
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read metadata file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"metadata file {path} is larger than {MAX_BYTES} bytes (1 MiB)")
    data = data.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark Windows editors write
    is_toml = path.endswith(".toml") or (not path.endswith(".json") and _looks_like_toml(data))
    if is_toml:
        import sys

        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            document = _jsonable_toml(tomllib.loads(data.decode("utf-8"), parse_float=_parse_float))
        except UsageError as exc:
            raise UsageError(f"metadata file {path}: {exc.message}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"metadata file {path} is not valid UTF-8 (byte {exc.start})") from None
        except (ValueError, RecursionError) as exc:  # ValueError: TOMLDecodeError, and integers past Python's digit limit
            raise UsageError(f"metadata file {path} is not valid TOML: {exc}") from None
    else:
        document = loads_strict(data, f"metadata file {path}")
    if not isinstance(document, dict):
        raise UsageError(f"metadata file {path} must hold an object at the top level")
    # Faults read "metadata file m.toml: params.lr holds nan", naming the file and the field.
    return {_check_key(key, f"metadata file {path}"): check_value(value, f"metadata file {path}: {key}", 1)
            for key, value in document.items()}


def describe_dataset(spec: str, *, hasher) -> dict:
    """A dataset reference: a URI recorded as given, or a local path hashed for lineage."""
    if "://" in spec:
        return {"uri": spec}
    try:
        mode = os.stat(spec).st_mode
    except OSError:
        raise UsageError(f"dataset path {spec!r} does not exist (a URI needs a scheme, e.g. s3://…)") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        # Reading a FIFO would wait for a writer forever; a device never ends.
        raise UsageError(f"dataset path {spec!r} is {kind_of(mode)}: only files and directories are hashed")
    digest, size, kind = hasher(spec)
    return {"uri": spec, "digest": digest, "size": size, "kind": kind}
