"""Facts read from an artifact's bytes: format, and safetensors parameters from the header alone."""

from __future__ import annotations

import json
import pickle
import struct

import pytest

from mreg.core import facts

from mregtest import write_safetensors


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("model.onnx", b"\x08\x07\x12\x07pytorch", "onnx"),
        ("model.pkl", pickle.dumps({"a": 1}), "pickle"),
        ("model.pickle", pickle.dumps([1]), "pickle"),
        ("model.joblib", pickle.dumps([1]), "joblib"),
        ("model.pt", b"PK\x03\x04" + b"\x00" * 20, "pytorch"),
        ("model.pth", b"PK\x03\x04" + b"\x00" * 20, "pytorch"),
        ("model.keras", b"PK\x03\x04" + b"\x00" * 20, "keras"),
        ("model.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 8, "keras-h5"),
        ("model.gguf", b"GGUF\x03\x00\x00\x00" + b"\x00" * 8, "gguf"),
        ("weights", b"GGUF\x03\x00\x00\x00" + b"\x00" * 8, "gguf"),  # by magic alone
        ("weights", pickle.dumps({"a": 1}, protocol=4), "pickle"),  # by magic alone
        ("notes.txt", b"hello", None),
        ("empty", b"", None),
    ],
)
def test_format_detection(tmp_path, filename, data, expected):
    path = tmp_path / filename
    path.write_bytes(data)
    assert facts.file_facts(str(path), filename)["format"] == expected


def test_safetensors_parameters_and_dtypes_from_the_header(tmp_path):
    path = tmp_path / "model.safetensors"
    count = write_safetensors(path, {"w": ("F32", [3, 4]), "b": ("F16", [4]), "emb": ("BF16", [10, 2])})
    assert count == 12 + 4 + 20
    assert facts.file_facts(str(path), "model.safetensors") == {
        "format": "safetensors", "parameters": 36, "dtypes": ["BF16", "F16", "F32"]}
    # The name does not matter when the header is sound: stored objects have no suffix.
    assert facts.file_facts(str(path), "blob")["parameters"] == 36


def test_a_scalar_tensor_counts_one_parameter(tmp_path):
    path = tmp_path / "s.safetensors"
    assert write_safetensors(path, {"scale": ("F32", [])}) == 1
    assert facts.file_facts(str(path), "s.safetensors")["parameters"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x01\x00",
        struct.pack("<Q", 1 << 40) + b"{}",  # header longer than the file
        struct.pack("<Q", 4) + b"nope",
        struct.pack("<Q", 2) + b"[]",
        struct.pack("<Q", 30) + b'{"w": {"dtype": "F32", "sh": 1}}'[:30],
        struct.pack("<Q", 40) + json.dumps({"w": {"dtype": "F32", "shape": [-1, 2]}}).encode().ljust(40),
        struct.pack("<Q", 10005) + b"[" * 10000 + b"]" * 5,
    ],
)
def test_a_malformed_safetensors_header_gives_no_count_and_no_crash(tmp_path, raw):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    found = facts.file_facts(str(path), "bad.safetensors")
    assert found["format"] == "safetensors"
    assert "parameters" not in found


def test_sharded_directory_sums_parameters(tmp_path):
    one = tmp_path / "model-00001-of-00002.safetensors"
    two = tmp_path / "model-00002-of-00002.safetensors"
    n1 = write_safetensors(one, {"a": ("F32", [100, 10])})
    n2 = write_safetensors(two, {"b": ("F16", [7, 3]), "c": ("I8", [5])})
    (tmp_path / "config.json").write_text("{}")
    found = facts.directory_facts([
        ("config.json", str(tmp_path / "config.json")),
        ("model-00001-of-00002.safetensors", str(one)),
        ("model-00002-of-00002.safetensors", str(two)),
    ])
    assert found == {"format": "huggingface", "parameters": n1 + n2, "dtypes": ["F16", "F32", "I8"]}
    without_config = facts.directory_facts([("a.safetensors", str(one)), ("b.safetensors", str(two))])
    assert without_config["format"] == "safetensors" and without_config["parameters"] == n1 + n2


def test_directory_of_one_other_format(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    assert facts.directory_facts([("m.onnx", str(tmp_path / "m.onnx")), ("README", str(tmp_path / "m.onnx"))]) == {
        "format": "onnx"}
    assert facts.directory_facts([("a.onnx", str(tmp_path / "m.onnx")), ("b.pt", str(tmp_path / "m.onnx"))]) == {
        "format": None}


class _Booby:
    """Unpickling this creates a marker file: proof that something unpickled it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_is_recognised_without_being_unpickled(tmp_path):
    marker = tmp_path / "UNPICKLED"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Booby(str(marker))))
    assert facts.file_facts(str(path), "model.pkl")["format"] == "pickle"
    assert facts.directory_facts([("model.pkl", str(path))])["format"] == "pickle"
    assert not marker.exists()
    # The payload really is armed: loading it is what would create the marker.
    pickle.loads(path.read_bytes()).close()
    assert marker.exists()


def _header_file(path, header: dict) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


@pytest.mark.parametrize(
    "shape",
    [[10**18] * 250, [10**18] * 200, [2] * (facts.MAX_DIMENSIONS + 1), [2**40, 2**40], [facts.MAX_PARAMETERS + 1]],
)
def test_a_shape_beyond_belief_gives_no_count_and_a_warning(tmp_path, shape, monkeypatch):
    warnings = []
    monkeypatch.setattr(facts.notices, "handler", warnings.append)
    path = tmp_path / "crafted.safetensors"
    _header_file(path, {"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}})
    found = facts.file_facts(str(path), "crafted.safetensors")
    assert found == {"format": "safetensors"}
    assert len(warnings) == 1 and "crafted.safetensors" in warnings[0]


def test_the_bounds_keep_real_shapes(tmp_path):
    path = tmp_path / "real.safetensors"
    _header_file(path, {"emb": {"dtype": "BF16", "shape": [152064, 8192], "data_offsets": [0, 0]},
                        "empty": {"dtype": "F32", "shape": [0, 10**18, 10**18], "data_offsets": [0, 0]},
                        "deep": {"dtype": "F8_E4M3", "shape": [1] * facts.MAX_DIMENSIONS, "data_offsets": [0, 0]}})
    assert facts.file_facts(str(path), "real.safetensors")["parameters"] == 152064 * 8192 + 0 + 1


@pytest.mark.parametrize("dtype", ["", "F32\x1b[2J", "X" * 33, "F 32"])
def test_a_dtype_that_is_not_a_name_gives_no_count(tmp_path, dtype):
    path = tmp_path / "odd.safetensors"
    _header_file(path, {"w": {"dtype": dtype, "shape": [2], "data_offsets": [0, 0]}})
    assert "parameters" not in facts.file_facts(str(path), "odd.safetensors")
