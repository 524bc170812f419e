"""Facts read from an artifact's own bytes: its format and, for safetensors, its size in parameters.

Only headers and magic numbers are read. Nothing is unpickled or imported:
loading a model is the user's business.
"""

from __future__ import annotations

import json
import os
import struct

# Magic numbers at offset 0.
_MAGIC = (
    (b"GGUF", "gguf"),
    (b"\x89HDF\r\n\x1a\n", "keras-h5"),
    (b"PK\x03\x04", "zip"),
)
_BY_SUFFIX = {
    ".safetensors": "safetensors",
    ".onnx": "onnx",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".keras": "keras",
    ".h5": "keras-h5",
    ".gguf": "gguf",
    ".tflite": "tflite",
    ".pb": "tensorflow",
    ".xgb": "xgboost",
    ".ubj": "xgboost",
    ".cbm": "catboost",
    ".lgb": "lightgbm",
    ".npz": "numpy",
    ".npy": "numpy",
    ".mlmodel": "coreml",
}
_MAX_HEADER = 100 * 1024 * 1024


def safetensors_header(path: str) -> dict | None:
    """The JSON header of a safetensors file, or None if it is not one."""
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                return None
            (length,) = struct.unpack("<Q", prefix)
            if length < 2 or length > _MAX_HEADER or length > os.fstat(handle.fileno()).st_size - 8:
                return None
            raw = handle.read(length)
    except OSError:
        return None
    if not raw.startswith(b"{"):
        return None
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def safetensors_summary(header: dict) -> tuple[int, list[str]] | None:
    """(parameter count, sorted dtypes) of a safetensors header; None if malformed."""
    parameters = 0
    dtypes: set[str] = set()
    for key, tensor in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(tensor, dict):
            return None
        shape, dtype = tensor.get("shape"), tensor.get("dtype")
        if not isinstance(shape, list) or not isinstance(dtype, str):
            return None
        count = 1
        for dim in shape:
            if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
                return None
            count *= dim
        parameters += count
        dtypes.add(dtype)
    return parameters, sorted(dtypes)


def _sniff(path: str, name: str) -> str | None:
    suffix = os.path.splitext(name)[1].lower()
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        head = b""
    if suffix == ".safetensors" or (not suffix and safetensors_header(path) is not None):
        return "safetensors"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "zip":
                # PyTorch and Keras 3 both save zip archives; the suffix tells them apart.
                return _BY_SUFFIX.get(suffix, "zip")
            return kind if suffix not in _BY_SUFFIX else _BY_SUFFIX[suffix]
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    return None


def file_facts(path: str, name: str) -> dict:
    """Facts of a single-file artifact stored at `path`, originally called `name`."""
    facts: dict = {"format": _sniff(path, name)}
    if facts["format"] == "safetensors":
        header = safetensors_header(path)
        summary = safetensors_summary(header) if header is not None else None
        if summary is not None:
            facts["parameters"], facts["dtypes"] = summary
    return facts


def directory_facts(files: list[tuple[str, str]]) -> dict:
    """Facts of a directory artifact, from (relative path, stored object path) pairs."""
    names = {rel for rel, _ in files}
    formats = []
    parameters = 0
    dtypes: set[str] = set()
    counted = False
    for rel, path in files:
        if rel.endswith(".safetensors"):
            header = safetensors_header(path)
            summary = safetensors_summary(header) if header is not None else None
            if summary is not None:
                parameters += summary[0]
                dtypes.update(summary[1])
                counted = True
    if "config.json" in names:
        formats.append("huggingface")
    elif counted:
        formats.append("safetensors")
    else:
        kinds = {_BY_SUFFIX.get(os.path.splitext(rel)[1].lower()) for rel, _ in files} - {None}
        if len(kinds) == 1:
            formats.append(kinds.pop())
    facts: dict = {"format": formats[0] if formats else None}
    if counted:
        facts["parameters"] = parameters
        facts["dtypes"] = sorted(dtypes)
    return facts
