"""init, register, update."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete
from mreg.cli.bodies import registering as bodies
from mreg.cli.commands import command
from mreg.cli.options import (Description, Framework, Json, LockTimeout, Metric, Override, Param, Quiet, Reason,
                              Ref, Repo, Tag)


@command(bodies.init)
def init(
    path: Annotated[Optional[str], typer.Argument(help="Project folder (default: --repo, $MREG_REPO, else the current one).")] = None,
    repo: Repo = None,
    json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Create a registry (.mreg/) in PATH; harmless to repeat.

    \b
    Example:
      mreg init              # in the current folder
      mreg init ~/models     # elsewhere
    """


@command(bodies.register)
def register(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model name, e.g. sentiment or team/sentiment.")],
    path: Annotated[str, typer.Argument(metavar="PATH", help="The artifact: a file or a directory.")],
    version: Annotated[Optional[str], typer.Option("--version", "-V", metavar="X.Y.Z", help="Exact version (default: bump the highest).")] = None,
    bump: Annotated[Optional[str], typer.Option("--bump", "-b", metavar="PART", help="major, minor or patch (default patch; the first version is 1.0.0).")] = None,
    metric: Metric = [],
    param: Param = [],
    tag: Tag = [],
    description: Description = None,
    framework: Framework = None,
    dataset: Annotated[list[str], typer.Option("--dataset", metavar="NAME=PATH_OR_URI", help="Training data: a local path is hashed, a URI recorded; repeatable.")] = [],
    metadata_file: Annotated[Optional[str], typer.Option("--metadata-file", metavar="FILE", help="JSON or TOML with metrics, params, tags, datasets and custom fields.")] = None,
    stage: Annotated[Optional[str], typer.Option("--stage", "-s", metavar="STAGE", help="Promote straight to this stage, step by step.")] = None,
    derived_from: Annotated[list[str], typer.Option("--from", metavar="REF", help="The version this one was derived from (fine-tuned, distilled, retrained), of any model; repeatable. See mreg lineage.", autocompletion=complete.references)] = [],
    follow_symlinks: Annotated[bool, typer.Option("--follow-symlinks", help="Store the bytes links point to, even outside the directory.")] = False,
    reason: Reason = "",
    if_changed: Annotated[bool, typer.Option("--if-changed", help="If a version of NAME already has these bytes, print it and register nothing.")] = False,
    override: Override = False,
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Store a file or directory as the next version of a model.

    \b
    Example:
      mreg register sentiment ./model.safetensors -m accuracy=0.93 -p lr=3e-4 \\
          -t team=nlp --dataset train=./data/train.csv --bump minor
      mreg register sentiment-small ./small.safetensors --from sentiment@production
    """


@command(bodies.update)
def update(
    ref: Ref,
    metric: Metric = [],
    param: Param = [],
    tag: Tag = [],
    description: Description = None,
    framework: Framework = None,
    unset: Annotated[list[str], typer.Option("--unset", metavar="KEY", help="Remove metrics.K, params.K, tags.K, datasets.K, description or framework; repeatable.")] = [],
    reason: Reason = "",
    lock_timeout: LockTimeout = None,
    json: Json = False,
    quiet: Quiet = False,
    repo: Repo = None,
) -> None:
    """Change a version's metadata (merged, never replaced). The artifact never changes.

    \b
    Example:
      mreg update sentiment@1.2.0 -m f1=0.91 -t reviewed=yes --unset tags.draft
    """
