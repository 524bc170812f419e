"""Metadata parsing and its documented limits, in the core directly."""

from __future__ import annotations

import json

import pytest

from mreg.core import metadata as md
from mreg.errors import UsageError


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("-2", -2), ("+3", 3), ("0.93", 0.93), (".5", 0.5), ("1e3", 1000.0), ("1E-3", 0.001), (" 7 ", 7)],
)
def test_numbers_from_the_command_line(text, value):
    parsed = md.parse_number(text, "metric 'x'")
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "abc", "nan", "NaN", "inf", "-Infinity", "1e999", "0x10", "1_000", "\u0661\u0662", "1,5"])
def test_anything_but_a_finite_plain_number_is_refused(text):
    with pytest.raises(UsageError) as caught:
        md.parse_number(text, "metric 'x'")
    assert "metric 'x'" in caught.value.message


def test_integers_past_the_digit_limit_are_refused():
    assert md.parse_number("9" * md.MAX_INT_DIGITS, "m") == int("9" * md.MAX_INT_DIGITS)
    with pytest.raises(UsageError, match="digits"):
        md.parse_number("9" * (md.MAX_INT_DIGITS + 1), "m")
    with pytest.raises(UsageError):
        md.parse_number("9" * 5000, "m")  # past Python's own int() limit too


@pytest.mark.parametrize(
    ("text", "value"),
    [("3e-4", 3e-4), ("32", 32), ("true", True), ("false", False), ("adam", "adam"), ("007", "007"),
     ("[1,2]", "[1,2]"), ("NaN", "NaN"), ("", "")],
)
def test_param_values_are_numbers_or_booleans_when_they_read_as_one(text, value):
    assert md.parse_scalar(text) == value


def test_split_pair():
    assert md.split_pair("lr=3e-4", "--param") == ("lr", "3e-4")
    assert md.split_pair("url=a=b", "--tag") == ("url", "a=b")
    assert md.split_pair("draft", "--tag", value_required=False) == ("draft", "")
    with pytest.raises(UsageError, match="KEY=VALUE"):
        md.split_pair("lr", "--param")
    with pytest.raises(UsageError):
        md.split_pair("=1", "--metric")


def test_limits_on_keys_depth_and_size():
    md.check_value({"k" * md.MAX_KEY: 1}, "m")
    with pytest.raises(UsageError, match="longer than"):
        md.check_value({"k" * (md.MAX_KEY + 1): 1}, "m")
    with pytest.raises(UsageError, match="control"):
        md.check_value({"a\tb": 1}, "m")
    nested: object = 1
    for _ in range(md.MAX_DEPTH):
        nested = [nested]
    md.check_value(nested, "m")
    with pytest.raises(UsageError, match="nested"):
        md.check_value([nested], "m")
    with pytest.raises(UsageError, match="finite"):
        md.check_value({"x": float("nan")}, "m")
    with pytest.raises(UsageError, match="Unicode"):
        md.check_value("\ud800", "m")
    md.check_size({"x": "a" * (md.MAX_BYTES - 100)})
    with pytest.raises(UsageError, match="1 MiB"):
        md.check_size({"x": "a" * md.MAX_BYTES})


def test_strict_json_refuses_duplicates_nan_and_bad_utf8():
    assert md.loads_strict(b'{"a": [1, 2.5, "x"]}', "f") == {"a": [1, 2.5, "x"]}
    for data, fault in [(b'{"a": 1, "a": 2}', "duplicate key 'a'"), (b'{"a": NaN}', "NaN"),
                        (b'{"a": Infinity}', "Infinity"), (b'{"a": "\xff"}', "UTF-8"), (b"{", "not valid JSON"),
                        (b"[" * 100000, "nested")]:
        with pytest.raises(UsageError) as caught:
            md.loads_strict(data, "f")
        assert fault in caught.value.message


def test_nested_duplicate_keys_are_refused_too():
    with pytest.raises(UsageError, match="duplicate"):
        md.loads_strict(b'{"params": {"lr": 1, "lr": 2}}', "f")


def test_metadata_file_json_and_toml_hold_the_same_document(tmp_path):
    document = {
        "description": "resnet",
        "metrics": {"accuracy": 0.93, "loss": 1},
        "params": {"lr": 0.0003, "layers": [64, 128]},
        "tags": {"team": "vision"},
        "dependencies": ["torch==2.1.0", "numpy>=1.26"],
        "input_shape": [1, 3, 224, 224],
        "custom": {"nested": {"list": [1, "two", 3.5, True]}},
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    (tmp_path / "m.toml").write_text(
        'description = "resnet"\n'
        'dependencies = ["torch==2.1.0", "numpy>=1.26"]\n'
        "input_shape = [1, 3, 224, 224]\n"
        "[metrics]\naccuracy = 0.93\nloss = 1\n"
        "[params]\nlr = 0.0003\nlayers = [64, 128]\n"
        '[tags]\nteam = "vision"\n'
        '[custom.nested]\nlist = [1, "two", 3.5, true]\n'
    )
    assert md.load_metadata_file(str(tmp_path / "m.json")) == document
    assert md.load_metadata_file(str(tmp_path / "m.toml")) == document


def test_toml_times_become_iso_text(tmp_path):
    (tmp_path / "t.toml").write_text("started = 2024-01-02T03:04:05Z\nday = 2024-01-02\nlocal = 2024-01-02T03:04:05\n")
    assert md.load_metadata_file(str(tmp_path / "t.toml")) == {
        "started": "2024-01-02T03:04:05Z", "day": "2024-01-02", "local": "2024-01-02T03:04:05"}


def test_metadata_file_without_suffix_is_sniffed(tmp_path):
    (tmp_path / "a").write_text('{"x": 1}')
    (tmp_path / "b").write_text("x = 1\n")
    assert md.load_metadata_file(str(tmp_path / "a")) == {"x": 1}
    assert md.load_metadata_file(str(tmp_path / "b")) == {"x": 1}


@pytest.mark.parametrize(
    ("filename", "data", "fault"),
    [
        ("list.json", b"[1, 2]", "object at the top level"),
        ("dup.toml", b"a = 1\na = 2\n", "not valid TOML"),
        ("nan.toml", b"a = nan\n", "finite"),
        ("bad.toml", b"a = \xff\n", "UTF-8"),
        ("big.json", b'{"a": "' + b"x" * (1 << 20) + b'"}', "larger than"),
    ],
)
def test_bad_metadata_files_name_the_file(tmp_path, filename, data, fault):
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(UsageError) as caught:
        md.load_metadata_file(str(path))
    assert str(path) in caught.value.message and fault in caught.value.message


def test_unreadable_metadata_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read metadata file .*missing.json"):
        md.load_metadata_file(str(tmp_path / "missing.json"))
    with pytest.raises(UsageError, match="cannot read metadata file"):
        md.load_metadata_file(str(tmp_path))


def test_dataset_reference(tmp_path):
    seen = []

    def hasher(path):
        seen.append(path)
        return "sha256:" + "a" * 64, 3, "file"

    assert md.describe_dataset("s3://bucket/train.csv", hasher=hasher) == {"uri": "s3://bucket/train.csv"}
    assert seen == []
    (tmp_path / "d.csv").write_text("abc")
    described = md.describe_dataset(str(tmp_path / "d.csv"), hasher=hasher)
    assert described == {"uri": str(tmp_path / "d.csv"), "digest": "sha256:" + "a" * 64, "size": 3, "kind": "file"}
    with pytest.raises(UsageError, match="does not exist"):
        md.describe_dataset(str(tmp_path / "nope.csv"), hasher=hasher)


def test_a_fault_inside_a_metadata_file_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text("[params]\nlr = nan\n")
    with pytest.raises(UsageError) as caught:
        md.load_metadata_file(str(path))
    assert caught.value.message == f"metadata file {path}: params.lr holds nan: numbers must be finite"


@pytest.mark.parametrize("filename", ["m.json", "m.toml", "m"])
def test_a_byte_order_mark_is_ignored(tmp_path, filename):
    # What Notepad and PowerShell's Out-File write at the top of a UTF-8 file.
    text = '{"metrics": {"acc": 0.5}}' if filename != "m.toml" else "[metrics]\nacc = 0.5\n"
    (tmp_path / filename).write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert md.load_metadata_file(str(tmp_path / filename)) == {"metrics": {"acc": 0.5}}


@pytest.mark.parametrize(
    "data",
    [b"[metrics]\naccuracy = 0.5\n", b"\n  [metrics] # scores\naccuracy = 0.5\n", b"\xef\xbb\xbf[metrics]\naccuracy = 0.5\n",
     b'["metrics"]\naccuracy = 0.5\n', b"[[metrics.runs]]\nx = 1\n[metrics]\naccuracy = 0.5\n"],
)
def test_a_toml_file_without_suffix_that_opens_with_a_table_is_toml(tmp_path, data):
    path = tmp_path / "meta"
    path.write_bytes(data)
    assert md.load_metadata_file(str(path))["metrics"]["accuracy" if b"accuracy" in data else "runs"] == 0.5


@pytest.mark.parametrize("data", [b"[1, 2]", b'["a", "b"]', b'[\n  {"metrics": {}}\n]'])
def test_a_json_array_without_suffix_is_still_read_as_json_and_refused(tmp_path, data):
    path = tmp_path / "meta"
    path.write_bytes(data)
    with pytest.raises(UsageError) as caught:
        md.load_metadata_file(str(path))
    assert "object at the top level" in caught.value.message


@pytest.mark.parametrize("text", ["1e-400", "-1e-400", "0.0000001e-320", "5E-324000"])
def test_a_metric_too_small_for_a_float_is_refused_not_stored_as_zero(text):
    with pytest.raises(UsageError) as caught:
        md.parse_number(text, "metric 'x'")
    assert "metric 'x'" in caught.value.message and "0.0" in caught.value.message


@pytest.mark.parametrize("text", ["0", "0.0", "-0.0", "0e-400", "0.000e5", "5e-324"])
def test_zero_written_as_zero_is_still_zero(text):
    assert md.parse_number(text, "metric 'x'") == float(text)


@pytest.mark.parametrize(("filename", "data"), [("m.json", b'{"metrics": {"x": 1e-400}}'),
                                                ("m.toml", b"[metrics]\nx = 1e-400\n"),
                                                ("p.json", b'{"params": {"lr": [2.5e-999]}}')])
def test_a_metadata_file_number_too_small_for_a_float_is_refused(tmp_path, filename, data):
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(UsageError) as caught:
        md.load_metadata_file(str(path))
    assert filename in caught.value.message and "0.0" in caught.value.message


def test_a_param_too_small_for_a_float_is_kept_as_written():
    assert md.parse_scalar("1e-400") == "1e-400" and md.parse_scalar("1e-300") == 1e-300


def test_a_long_number_is_judged_in_linear_time():
    # `\d+\.?\d*` tried every split of the digits: minutes for a 100,000-digit argument.
    import time

    started = time.perf_counter()
    for text in ("1" * 100_000 + "x", "1" * 100_000 + ".5x", "." + "1" * 100_000 + "e"):
        with pytest.raises(UsageError):
            md.parse_number(text, "metric 'x'")
    assert time.perf_counter() - started < 1.0
    assert md.parse_number("1.", "m") == 1.0 and md.parse_number("1.5e3", "m") == 1500.0
