"""Facts read from an artifact's own bytes: its format and, for safetensors, its size in parameters.

Only headers and magic numbers are read. Nothing is unpickled or imported:
loading a model is the user's business.
"""

from __future__ import annotations

import json
import os
import re
import struct

from mreg.core import notices

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
# A header is the artifact's own word, and an artifact can come from anyone:
# a shape beyond these is not believed. (The largest models have about 2**40
# parameters; tensors have a handful of dimensions.)
MAX_DIMENSIONS = 64
MAX_PARAMETERS = 2**53  # also exact as a JSON number in any reader
MAX_DTYPES = 32
_DTYPE = re.compile(r"[A-Za-z0-9_]{1,32}", re.ASCII)  # F32, BF16, F8_E4M3…


class ImplausibleHeader(ValueError):
    """A well-formed header whose shapes cannot be true: no parameter count is recorded."""


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
    """(parameter count, sorted dtypes) of a safetensors header; None if malformed.

    ImplausibleHeader when a tensor has more than MAX_DIMENSIONS dimensions or
    the count passes MAX_PARAMETERS (checked as it grows, so a crafted shape
    never builds a huge integer).
    """
    parameters = 0
    dtypes: set[str] = set()
    for key, tensor in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(tensor, dict):
            return None
        shape, dtype = tensor.get("shape"), tensor.get("dtype")
        if not isinstance(shape, list) or not isinstance(dtype, str) or not _DTYPE.fullmatch(dtype):
            return None
        if len(shape) > MAX_DIMENSIONS:
            raise ImplausibleHeader(f"tensor {str(key)[:80]!r} has {len(shape)} dimensions (at most {MAX_DIMENSIONS} are believed)")
        if not all(isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in shape):
            return None
        count = 1
        for dim in shape:
            count *= min(dim, MAX_PARAMETERS + 1)
            if count > MAX_PARAMETERS:
                # Only a zero elsewhere in the shape could bring it back: that tensor is empty.
                count = 0 if 0 in shape else count
                break
        parameters += count
        if parameters > MAX_PARAMETERS:
            raise ImplausibleHeader(f"its shapes add up to more than {MAX_PARAMETERS:,} parameters")
        dtypes.add(dtype)
        if len(dtypes) > MAX_DTYPES:
            raise ImplausibleHeader(f"it names more than {MAX_DTYPES} dtypes")
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
        summary = _summary(path, name)
        if summary is not None:
            facts["parameters"], facts["dtypes"] = summary
    return facts


def _summary(path: str, name: str) -> tuple[int, list[str]] | None:
    """The header's summary; an implausible one is reported and gives none."""
    header = safetensors_header(path)
    if header is None:
        return None
    try:
        return safetensors_summary(header)
    except ImplausibleHeader as exc:
        notices.warn(f"{name}: safetensors header not believed: {exc}; no parameter count recorded")
        return None


def directory_facts(files: list[tuple[str, str]]) -> dict:
    """Facts of a directory artifact, from (relative path, stored object path) pairs."""
    names = {rel for rel, _ in files}
    formats = []
    parameters = 0
    dtypes: set[str] = set()
    counted = False
    for rel, path in files:
        if rel.endswith(".safetensors"):
            summary = _summary(path, rel)
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
    if counted and parameters > MAX_PARAMETERS:
        notices.warn(f"the safetensors files add up to more than {MAX_PARAMETERS:,} parameters; "
                     "no parameter count recorded")
        counted = False
    if counted:
        facts["parameters"] = parameters
        facts["dtypes"] = sorted(dtypes)
    return facts
