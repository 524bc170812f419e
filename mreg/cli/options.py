"""Options every command shares, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mreg.cli import complete

Repo = Annotated[
    Optional[str],
    typer.Option("--repo", metavar="PATH", help="Registry to use (default: $MREG_REPO, else the nearest .mreg/ upward)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")]
LockTimeout = Annotated[
    Optional[float],
    typer.Option("--lock-timeout", metavar="SECONDS", help="How long to wait for the registry lock (default 30)."),
]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the history.")]
Ref = Annotated[
    str,
    typer.Argument(metavar="REF", help="NAME@VERSION, NAME@latest, NAME@STAGE or NAME@ALIAS.", autocompletion=complete.references),
]
ReadRef = Annotated[
    str,
    typer.Argument(metavar="REF", help="NAME, NAME@VERSION, NAME@latest, NAME@STAGE or NAME@ALIAS.", autocompletion=complete.references),
]
ModelName = Annotated[str, typer.Argument(metavar="NAME", help="Model name.", autocompletion=complete.model_names)]
Metric = Annotated[list[str], typer.Option("--metric", "-m", metavar="K=V", help="A metric (a number); repeatable.")]
Param = Annotated[list[str], typer.Option("--param", "-p", metavar="K=V", help="A parameter; repeatable.")]
Tag = Annotated[list[str], typer.Option("--tag", "-t", metavar="K=V", help="A tag; repeatable.")]
Description = Annotated[Optional[str], typer.Option("--description", "-d", help="Free text.")]
Framework = Annotated[Optional[str], typer.Option("--framework", help="e.g. pytorch, sklearn, onnx.")]
Stage = Annotated[str, typer.Argument(metavar="STAGE", help="Target stage.", autocompletion=complete.stages)]
Condition = Annotated[
    Optional[str],
    typer.Option("--if", metavar="CONDITION",
                 help="Move only if this is true, checked under the lock with the move, "
                      "e.g. 'metrics.auc > @production.metrics.auc' (see mreg check)."),
]
IfMissing = Annotated[
    str,
    typer.Option("--if-missing", metavar="pass|fail",
                 help="When a value the condition reads is missing (no production version yet): "
                      "pass, or fail (the default).", autocompletion=complete.if_missing),
]
Override = Annotated[
    bool,
    typer.Option("--override", help="Admins only: enter a stage without the approvals it takes (needs --reason; recorded)."),
]
