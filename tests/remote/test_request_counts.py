"""A push or pull asks the remote about what changed, not about every model: its requests do not grow with them.

Counted through MREG_STORAGE_LOG (every storage operation, one line each) on
a folder remote, where the count is exact and the same on every run; the
benchmarks count the same way against S3.
"""

from __future__ import annotations

from pathlib import Path

from mregtest import Mreg


def requests(run: Mreg, log: Path, *args: str) -> list[str]:
    """The storage operations of one command."""
    log.unlink(missing_ok=True)
    run(*args, env={"MREG_STORAGE_LOG": str(log)})
    return log.read_text().splitlines() if log.exists() else []


def registry_of(tmp_path: Path, models: int) -> tuple[Mreg, Mreg, Path]:
    """A registry of `models` models (one version each) pushed to a new folder remote, and a clone of it."""
    folder = tmp_path / f"r{models}"
    folder.mkdir()
    run = Mreg(folder)
    run("init", "-q")
    artifact = folder / "model.bin"
    for i in range(models):
        artifact.write_bytes(f"model {i}".encode())
        run("register", f"m{i}", artifact, "-q")
    remote = tmp_path / f"remote{models}"
    run("remote", "add", "origin", remote, "-q")
    run("push", "-q")
    Mreg(tmp_path)("clone", remote, f"clone{models}", "-q")
    return run, Mreg(tmp_path / f"clone{models}"), tmp_path / f"log{models}"


def change_one(run: Mreg, step: int) -> None:
    artifact = run.cwd / "model.bin"
    artifact.write_bytes(f"model 0, step {step}".encode())
    run("register", "m0", artifact, "-q")


def test_push_and_pull_requests_do_not_grow_with_the_models(tmp_path):
    counts = {}
    for models in (2, 12):
        run, clone, log = registry_of(tmp_path, models)
        nothing = requests(run, log, "push", "-q")
        change_one(run, 1)
        one = requests(run, log, "push", "-q")
        clone("pull", "-q")  # the change pushed above
        pull_nothing = requests(clone, log, "pull", "-q")
        change_one(run, 2)
        run("push", "-q")
        pull_one = requests(clone, log, "pull", "-q")
        counts[models] = {"push, nothing to send": nothing, "push, one model changed": one,
                          "pull, nothing new": pull_nothing, "pull, one model changed": pull_one}
    small, large = counts[2], counts[12]
    # Nothing to send: not a single request (the remote is not even opened).
    assert small["push, nothing to send"] == large["push, nothing to send"] == []
    # One model changed: a claim, its objects' probes and uploads, the entry: the same with 12 models as with 2.
    assert 0 < len(large["push, one model changed"]) == len(small["push, one model changed"]) <= 8, counts
    # A pull lists the logs once and reads only the models that changed.
    for case in ("pull, nothing new", "pull, one model changed"):
        assert [line.split()[0] for line in large[case]] == [line.split()[0] for line in small[case]], counts
    assert len(large["pull, nothing new"]) <= 2, counts
    assert sum(line.startswith("read models/") for line in large["pull, one model changed"]) == 1, counts
