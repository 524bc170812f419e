#!/usr/bin/env python3
"""Write examples/: a tiny real sentiment model to try mreg on, with its metadata.

    python scripts/generate_examples.py          # rewrite examples/
    python scripts/generate_examples.py --check  # exit 1 if it is stale

- `sentiment.safetensors`: a bag-of-words classifier (a 64-word embedding of
  width 8, then a 2-way linear layer), about 2 KiB of real float32 weights in
  the safetensors format;
- `sentiment.toml`: its metadata (metrics, params, tags, a dataset, custom fields),
  as `mreg register --metadata-file` reads it;
- `sentiment-v2/`: a wider second version as a model directory (weights and config);
- `data/train.csv`: a few lines of training data, for `--dataset`.

The weights come from a fixed-seed generator, so every run writes the same
bytes; tests/test_docs.py fails while the committed files are stale.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "examples")
VOCABULARY = 64

METADATA = """\
# Metadata of examples/sentiment.safetensors, for `mreg register --metadata-file`.
description = "bag-of-words sentiment classifier, trained on a toy corpus"
framework = "pytorch"

[metrics]
accuracy = 0.91
f1 = 0.89

[params]
lr = 3e-4
epochs = 5
embedding_dim = 8

[tags]
team = "nlp"

[datasets]
train = "https://example.com/sentiment/train.csv"

# Any other field is kept exactly as written.
[inputs]
vocabulary = 64
labels = ["negative", "positive"]
"""

TRAIN_CSV = """\
text,label
a delight from start to finish,1
great acting and a clever plot,1
dull and far too long,0
the worst film this year,0
"""


def _weights(count: int, seed: int) -> list[float]:
    """`count` small floats from a linear congruential generator (the same on every machine)."""
    state, values = seed, []
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        values.append(((state >> 40) / (1 << 24) - 0.5) / 4)
    return values


def safetensors(tensors: dict[str, list[int]], seed: int) -> bytes:
    """A safetensors file of float32 tensors (header, then the data, as the format says)."""
    header: dict = {"__metadata__": {"format": "pt"}}
    data = bytearray()
    for i, (name, shape) in enumerate(tensors.items()):
        count = 1
        for dim in shape:
            count *= dim
        raw = struct.pack(f"<{count}f", *_weights(count, seed + i))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # the format pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + bytes(data)


def classifier(width: int, seed: int) -> bytes:
    return safetensors({"embedding.weight": [VOCABULARY, width], "classifier.weight": [2, width],
                        "classifier.bias": [2]}, seed)


def files() -> dict[str, bytes]:
    """{path relative to examples/: content}."""
    config = {"architecture": "bag-of-words", "vocabulary": VOCABULARY, "embedding_dim": 16,
              "labels": ["negative", "positive"]}
    return {
        "sentiment.safetensors": classifier(8, seed=1),
        "sentiment.toml": METADATA.encode(),
        "sentiment-v2/model.safetensors": classifier(16, seed=2),
        "sentiment-v2/config.json": (json.dumps(config, indent=2) + "\n").encode(),
        "data/train.csv": TRAIN_CSV.encode(),
    }


def stale() -> list[str]:
    out = []
    for relative, content in files().items():
        try:
            with open(os.path.join(TARGET, relative), "rb") as handle:
                if handle.read() == content:
                    continue
        except FileNotFoundError:
            pass
        out.append(relative)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing them")
    args = parser.parse_args(argv)
    changed = stale()
    if args.check:
        if changed:
            print(f"stale: {', '.join(changed)} (run python scripts/generate_examples.py)", file=sys.stderr)
        return 1 if changed else 0
    content = files()
    for relative in changed:
        path = os.path.join(TARGET, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content[relative])
        print(f"wrote examples/{relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
