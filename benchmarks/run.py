#!/usr/bin/env python3
"""mreg's performance harness (GitHub issue 6).

    python benchmarks/run.py            # full sizes, ~15 minutes on a 2-core machine
    python benchmarks/run.py --quick    # small sizes, few repeats, < 60 s (CI)
    python benchmarks/run.py --json results.json --only startup,big

Builds all its data in a temporary folder, runs every timed command as a
fresh `mreg` process (the console script next to this interpreter, else the
one on PATH), and prints one row per scenario: median, min and max of the
repeats, the baseline measured in the same run, the ratio of the median to
that baseline, and the target. Wall-clock times on a shared machine are
noisy; the median is the figure that counts.

Not part of the test suite: it measures, it does not assert. The exit status
is 0 unless a command fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20
GIB = 1 << 30

# --- sizes -------------------------------------------------------------------
FULL = {
    "reps_fast": 15,  # start-up and other sub-second commands
    "reps_big": 5,  # multi-second commands
    "big_file": GIB,
    "sparse_file": 5 * GIB,
    "small_files": 10_000,
    "small_file_size": 10_000,
    "models": 1_000,
    "versions_per_model": 100,
    "parallel": 16,
    "like_lengths": [125_000, 250_000, 500_000, 1_000_000],
    "site_models": 10,  # mreg site: models × versions each
    "site_versions": 100,
    "s3_file": GIB,
    "reps_s3": 3,
    "remote_file": GIB,  # remote: one big version pushed, and got through a lazy clone
    "remote_models": 100,  # remote: models x versions each, pushed, then pushed again, cloned, listed
    "remote_versions": 10,
    "remote_sparse": 5 * GIB,  # remote: peak RSS of push, pull and get
    "reps_remote": 3,
}
QUICK = {
    "reps_fast": 5,
    "reps_big": 3,
    "big_file": 64 * MIB,
    "sparse_file": 256 * MIB,
    "small_files": 1_000,
    "small_file_size": 10_000,
    "models": 50,
    "versions_per_model": 20,
    "parallel": 8,
    "like_lengths": [50_000, 100_000, 200_000],
    "site_models": 4,  # 200 versions: the full run measures the 1,000 the target is for
    "site_versions": 50,
    "s3_file": 32 * MIB,
    "reps_s3": 2,
    "remote_file": 64 * MIB,
    "remote_models": 20,
    "remote_versions": 10,
    "remote_sparse": 256 * MIB,
    "reps_remote": 2,
}


# --- running things ----------------------------------------------------------
def mreg_executable() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "mreg")
    if os.path.exists(beside):
        return beside
    found = shutil.which("mreg")
    if not found:
        sys.exit("benchmarks: no `mreg` command next to this Python or on PATH; pip install -e . first")
    return found


class Runner:
    def __init__(self, workdir: str) -> None:
        self.mreg = mreg_executable()
        self.env = dict(os.environ)
        config_dir = os.path.join(workdir, "user-config")
        os.makedirs(config_dir, exist_ok=True)
        self.env.update({
            "MREG_CONFIG_DIR": config_dir,  # no user settings leak into the figures
            "MREG_USER": "bench",
            "MREG_NO_PROGRESS": "1",
            "NO_COLOR": "1",
        })
        self.env.pop("MREG_REPO", None)
        self.env.pop("MREG_DEBUG", None)
        # An installed package has its bytecode compiled (pip does it); an
        # editable checkout run with PYTHONDONTWRITEBYTECODE would recompile
        # every module on every call and measure the compiler instead of mreg.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def run(self, argv: list[str], *, cwd: str, env: dict | None = None, check: bool = True) -> tuple[float, int, bytes]:
        """Run one process; return (seconds, its CPU seconds, stdout)."""
        full_env = dict(self.env, **(env or {}))
        out = tempfile.TemporaryFile()
        err = tempfile.TemporaryFile()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.read().decode(errors='replace')[-2000:]}")
        self.last_cpu = usage.ru_utime + usage.ru_stime
        return elapsed, self.last_cpu, stdout

    def mreg_cmd(self, args: list[str], *, cwd: str, env: dict | None = None) -> tuple[float, int, bytes]:
        return self.run([self.mreg, *args], cwd=cwd, env=env)

    def times(self, argv: list[str], reps: int, *, cwd: str, env: dict | None = None, before=None) -> list[float]:
        result = []
        self.cpu: list[float] = []
        for i in range(reps):
            if before is not None:
                before(i)
            result.append(self.run(argv, cwd=cwd, env=env)[0])
            self.cpu.append(self.last_cpu)
        return result

    def peak_rss(self, argv: list[str], *, cwd: str, env: dict | None = None) -> tuple[float, int]:
        """(seconds, peak RSS in bytes) of one process.

        Through GNU time, a small C program: a child forked from this (large)
        Python process would report this process's RSS as its own peak.
        """
        gnu_time = "/usr/bin/time"
        if not os.path.exists(gnu_time):
            raise RuntimeError("peak RSS needs GNU time at /usr/bin/time")
        report = os.path.join(tempfile.gettempdir(), f"mreg-bench-rss-{os.getpid()}")
        elapsed = self.run([gnu_time, "-f", "%M", "-o", report, *argv], cwd=cwd, env=env)[0]
        with open(report) as handle:
            kib = int(handle.read().split()[-1])
        os.unlink(report)
        return elapsed, kib * 1024


def summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


# --- data --------------------------------------------------------------------
def write_random_file(path: str, size: int, seed: int) -> None:
    rng = random.Random(seed)
    block = rng.randbytes(MIB)
    with open(path, "wb") as handle:
        written = 0
        counter = 0
        while written < size:
            # Vary every MiB so no two blocks are equal (the hash sees real data).
            chunk = counter.to_bytes(8, "little") + block[8:]
            counter += 1
            chunk = chunk[: size - written]
            handle.write(chunk)
            written += len(chunk)


def hash_script(path: str) -> list[str]:
    """The hashlib baseline as its own process, reading the way mreg does (4 MiB chunks)."""
    code = (
        "import hashlib,os,sys\n"
        "h=hashlib.sha256();fd=os.open(sys.argv[1],os.O_RDONLY)\n"
        "while c:=os.read(fd,4<<20): h.update(c)\n"
    )
    return [sys.executable, "-c", code, path]


# One S3 transfer in a process of its own: prints the seconds the transfer
# took (client creation included, for both sides alike).
S3_TRANSFER = """
import json, sys, time
mode, url, path, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
started = time.perf_counter()
if mode.startswith("mreg"):
    from mreg.core.remote.s3 import S3Storage
    bucket_prefix, key = url.rsplit("/", 1)
    storage = S3Storage(bucket_prefix, options)
    if mode == "mreg-put":
        assert storage.put_file(key, path)
    else:
        storage.get_file(key, path)
else:
    import s3fs
    fs = s3fs.S3FileSystem(key=options["key"], secret=options["secret"], endpoint_url=options["endpoint_url"])
    if mode == "bare-put":
        fs.put_file(path, url)
    else:
        fs.get_file(url, path)
print(time.perf_counter() - started)
"""


def startup_lines(root: str, artifact: str) -> list[tuple[str, list[str], str | None]]:
    """(command, a cheap but real command line of it, the model it changes) for every command.

    The registry is startup()'s; a command line that changes a model finds it
    put back before each run, so every run does the same work.
    """
    site, copy, remote = (os.path.join(root, name) for name in ("site", "copy", "remote"))
    return [
        ("init", ["init", "-q"], None),  # in the registry already there: harmless to repeat
        ("register", ["register", "sentiment", artifact, "-m", "accuracy=0.9", "-q"], "sentiment"),
        ("update", ["update", "sentiment@1.0.0", "-t", "bench=yes", "-q"], "sentiment"),
        ("transition", ["transition", "translator@1.0.0", "testing", "-q"], "translator"),
        ("promote", ["promote", "translator@1.0.0", "-q"], "translator"),
        ("rollback", ["rollback", "sentiment", "--reason", "bench", "-q"], "sentiment"),
        ("check", ["check", "sentiment@1.0.1", "metrics.accuracy > 0.5", "-q"], None),
        ("alias", ["alias", "sentiment@1.0.2", "canary", "-q"], "sentiment"),
        ("approve", ["approve", "translator@1.0.0", "--stage", "staging", "-r", "ok", "-q"], "translator"),
        ("reject", ["reject", "translator@1.0.0", "--stage", "staging", "-r", "no", "-q"], "translator"),
        ("approvals", ["approvals", "sentiment@1.0.1"], None),
        ("show", ["show", "sentiment", "--json"], None),
        ("list", ["list"], None),
        ("ls", ["ls", "--json"], None),
        ("get", ["get", "sentiment@production", "-o", os.path.join(root, "got.bin"), "-f", "-q"], None),
        ("history", ["history", "sentiment"], None),
        ("search", ["search", "metrics.accuracy > 0.8"], None),
        ("diff", ["diff", "sentiment@1.0.0", "sentiment@1.0.1"], None),
        ("lineage", ["lineage", "sentiment@1.0.1"], None),
        ("deploy", ["deploy", "sentiment@1.0.2", "--env", "prod", "--traffic", "10", "-q"], "sentiment"),
        ("undeploy", ["undeploy", "sentiment@1.0.1", "--env", "prod", "-q"], "sentiment"),
        ("deployments", ["deployments"], None),
        ("rm", ["rm", "sentiment@1.0.0", "-q"], "sentiment"),
        ("gc", ["gc", "--dry-run", "-q"], None),
        ("verify", ["verify", "sentiment@1.0.1"], None),
        ("site", ["site", "sentiment", "-o", site, "-q"], None),  # the second run on finds every page there
        ("ui", ["ui"], None),
        ("remote", ["remote", "list"], None),
        ("push", ["push", "-q"], None),  # nothing to send: the remote's log read, compared
        ("pull", ["pull", "-q"], None),
        ("clone", ["clone", remote, copy, "-q"], None),  # the copy removed before each run
    ]


def new_registry(runner: Runner, path: str) -> str:
    if os.path.exists(path):
        shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    runner.mreg_cmd(["init", "-q"], cwd=path)
    return path


def build_big_registry(project: str, models: int, per_model: int, seed: int = 7) -> dict:
    """A registry of models × per_model versions written straight in the documented format.

    Each version gets its own small object, a full record as `register`
    writes it, and a register event in a hash-chained history, so that every
    read command, verify and gc see a registry they could have built themselves.
    Uses mreg's own index and history modules for the file formats.
    """
    sys.path.insert(0, os.path.dirname(HERE))
    from mreg.core import history as history_mod
    from mreg.core import index as index_mod
    from mreg.core.layout import Layout
    from mreg.core.registry import init

    registry = init(project)
    layout: Layout = registry.layout
    rng = random.Random(seed)
    teams = ["a", "b", "c", "d"]
    t0 = time.time() - 86400 * 400
    shards_made: set[str] = set()
    for m in range(models):
        name = f"model-{m:04d}"
        model = index_mod.new_model(name)
        events = []
        prev = history_mod.GENESIS
        for v in range(per_model):
            version = f"1.{v // 10}.{v % 10}"
            payload = f"{name}@{version}\n".encode()
            hexdigest = hashlib.sha256(payload).hexdigest()
            shard = hexdigest[:2]
            if shard not in shards_made:
                os.makedirs(os.path.join(layout.objects, shard), exist_ok=True)
                shards_made.add(shard)
            obj = layout.object_path(hexdigest)
            with open(obj, "wb") as handle:
                handle.write(payload)
            os.chmod(obj, 0o444)
            when = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(t0 + m * 3600 + v * 60))  # as mreg stores times
            stage = "development"
            if v == per_model - 2:
                stage = "production"
            elif v < per_model - 10:
                stage = "archived"
            record = {
                "version": version,
                "stage": stage,
                "digest": "sha256:" + hexdigest,
                "kind": "file",
                "size": len(payload),
                "files": 1,
                "created_at": when,
                "created_by": "bench@example.com",
                "description": f"run {v} of {name}",
                "framework": rng.choice(["pytorch", "sklearn", "onnx"]),
                "metrics": {"accuracy": round(rng.uniform(0.5, 1.0), 4), "f1": round(rng.uniform(0.4, 1.0), 4),
                            "loss": round(rng.uniform(0.01, 2.0), 4)},
                "params": {"lr": rng.choice([1e-3, 3e-4, 1e-4]), "epochs": rng.randint(1, 50), "optimizer": "adamw"},
                "tags": {"team": rng.choice(teams), "dataset": f"ds-{rng.randint(1, 20)}"},
                "datasets": {"train": {"uri": f"s3://bucket/{name}/train-{v}.parquet"}},
                "format": "safetensors",
                "parameters": rng.randint(10**6, 10**9),
                "dtypes": ["F32"],
                "filename": "model.safetensors",
                "lineage": {"user": "bench@example.com", "git_commit": "%040x" % rng.getrandbits(160), "git_dirty": False},
                "metadata": {},
                "stage_changed_at": when,
            }
            model["versions"][version] = record
            if stage == "production":
                model["released"].append(version)
            # The whole record, as register writes it, so the history replays into this index
            # (a clone or a pull rebuilds the index from it); a released version then gets its promote.
            entered = dict(record, stage="development" if stage == "production" else stage)
            details = {"digest": record["digest"], "size": record["size"], "kind": "file", "bump": "patch",
                       "record": entered}
            happened = [{"time": when, "user": "bench@example.com", "action": "register", "name": name,
                         "version": version, "from": None, "to": entered["stage"], "reason": "", "details": details}]
            if stage == "production":
                happened.append({"time": when, "user": "bench@example.com", "action": "promote", "name": name,
                                 "version": version, "from": "development", "to": stage, "reason": "",
                                 "details": {"stage_changed_at": when, "released": list(model["released"])}})
            for event in happened:
                sealed = history_mod.seal(event, prev, len(events) + 1)
                prev = sealed["hash"]
                events.append(sealed)
        model_dir = layout.model_dir(name)
        os.makedirs(model_dir, exist_ok=True)
        data = b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in events)
        with open(layout.history_path(name), "wb") as handle:
            handle.write(data)
        model["history"] = {"events": len(events), "bytes": len(data), "head": prev}
        with open(layout.index_path(name), "wb") as handle:
            handle.write((json.dumps(model, indent=1, ensure_ascii=False) + "\n").encode())
    return {"models": models, "versions": models * per_model, "objects": models * per_model}


# --- scenarios ---------------------------------------------------------------
class Bench:
    def __init__(self, sizes: dict, workdir: str, quick: bool) -> None:
        self.sizes = sizes
        self.work = workdir
        self.quick = quick
        self.runner = Runner(workdir)
        self.rows: list[dict] = []
        self._python_pass: dict | None = None

    def row(self, scenario: str, measured: dict, *, unit: str = "s", baseline: dict | None = None,
            baseline_name: str = "", target: str = "", ok: bool | None = None, note: str = "") -> dict:
        ratio = None
        if baseline is not None and baseline["median"] > 0:
            ratio = measured["median"] / baseline["median"]
        entry = {"scenario": scenario, "unit": unit, **{k: measured[k] for k in ("median", "min", "max", "n")},
                 "baseline": baseline_name, "baseline_median": baseline["median"] if baseline else None,
                 "ratio": ratio, "target": target, "met": ok, "note": note}
        self.rows.append(entry)
        print(format_row(entry), flush=True)
        return entry

    def python_pass(self) -> dict:
        if self._python_pass is None:
            self._python_pass = summary(self.runner.times([sys.executable, "-c", "pass"], self.sizes["reps_fast"], cwd=self.work))
            self.row("baseline: python -c pass", self._python_pass,
                     note=f"CPU {statistics.median(self.runner.cpu) * 1000:.0f} ms")
        return self._python_pass

    # start-up ------------------------------------------------------------------
    def startup(self) -> None:
        """`mreg --help`, every command once each (a cheap but real command line) and a TAB, on a small registry."""
        r = self.runner
        root = os.path.join(self.work, "startup")
        project = new_registry(r, os.path.join(root, "project"))
        artifact = os.path.join(root, "model.bin")
        for name in ["sentiment", "segmenter", "translator"]:
            for v in range(3):
                with open(artifact, "wb") as handle:
                    handle.write(f"{name} {v}\n".encode())
                r.mreg_cmd(["register", name, artifact, "-q", "-m", f"accuracy=0.{80 + v}"], cwd=project)
        for setup in (["promote", "sentiment@1.0.0", "--to", "production", "--reason", "bench", "-q"],
                      ["promote", "sentiment@1.0.1", "--to", "production", "--reason", "bench", "-q"],
                      ["alias", "sentiment@1.0.1", "champion", "-q"],
                      ["deploy", "sentiment@1.0.1", "--env", "prod", "-q"],
                      ["remote", "add", "origin", os.path.join(root, "remote"), "-q"], ["push", "-q"]):
            r.mreg_cmd(setup, cwd=project)
        with open(os.path.join(project, ".mreg", "config.toml"), "a") as handle:
            handle.write("\n[policy.stages.staging]\napprovals = 1\nself_approval = true\n")
        base = self.python_pass()
        reps = self.sizes["reps_fast"]
        complete_env = {"_MREG_COMPLETE": "complete_bash", "COMP_WORDS": "mreg show se", "COMP_CWORD": "2"}
        # Check the completion really completes (an empty answer would be fast and wrong).
        _, _, answer = r.mreg_cmd([], cwd=project, env=complete_env)
        completes = b"sentiment" in answer and b"segmenter" in answer
        for label, args, env, limit in [
            ("start-up: mreg --help", ["--help"], None, 0.100),
            ("start-up: TAB completion (mreg show se<TAB>)", [], complete_env, 0.080),
        ]:
            samples = summary(r.times([r.mreg, *args], reps, cwd=project, env=env))
            note = f"CPU {statistics.median(r.cpu) * 1000:.0f} ms"
            if env is not None and not completes:
                note += f"; completion answered {answer[:80]!r}"
            self.row(label, samples, baseline=base, baseline_name="python -c pass",
                     target=f"<= {limit * 1000:.0f} ms", ok=samples["median"] <= limit, note=note)
        show = summary(r.times([r.mreg, "show", "sentiment@production"], reps, cwd=project))
        self.row("start-up: mreg show NAME@production", show, baseline=base, baseline_name="python -c pass",
                 target="<= 100 ms", ok=show["median"] <= 0.100, note=f"CPU {statistics.median(r.cpu) * 1000:.0f} ms")
        for name, args, model in startup_lines(root, artifact):
            if name == "ui":
                samples = self._serving(project, args, reps)
            else:
                before = self._restorer(root, project, model)
                if name == "clone":
                    before = lambda _i, copy=args[2]: shutil.rmtree(copy, ignore_errors=True)  # noqa: E731
                samples = summary(r.times([r.mreg, *args], reps, cwd=project, before=before))
            ok = samples["median"] <= 0.100 and samples["median"] <= 1.5 * show["median"]
            self.row(f"start-up: mreg {' '.join(args)}".replace(root, "DIR"), samples, baseline=show, baseline_name="mreg show",
                     target="<= 100 ms and <= 1.5x show", ok=ok,
                     note=f"CPU {statistics.median(r.cpu) * 1000:.0f} ms" if name != "ui" else "until it serves")

    def _restorer(self, root: str, project: str, model: str | None):
        """Before each run of a command that changes a model: put the model's files back as they were."""
        if model is None:
            return None
        saved = os.path.join(root, "saved", model)
        folder = os.path.join(project, ".mreg", "models", model)
        if not os.path.exists(saved):
            shutil.copytree(folder, saved)

        def restore(_i: int) -> None:
            shutil.rmtree(folder)
            shutil.copytree(saved, folder)

        return restore

    def _serving(self, project: str, args: list[str], reps: int) -> dict:
        """Seconds from starting `mreg ui` to its port answering; then it is stopped."""
        import signal
        import socket

        samples = []
        for _ in range(reps):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            start = time.perf_counter()
            proc = subprocess.Popen([self.runner.mreg, *args, "--port", str(port)], cwd=project, env=self.runner.env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.002)
            samples.append(time.perf_counter() - start)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        return summary(samples)

    # one big file ---------------------------------------------------------------
    def big(self) -> None:
        r = self.runner
        size = self.sizes["big_file"]
        reps = self.sizes["reps_big"]
        src = os.path.join(self.work, "big.bin")
        write_random_file(src, size, seed=1)
        label = f"{size / GIB:g} GiB" if size >= GIB else f"{size // MIB} MiB"
        # Warm the page cache so every contender reads from memory.
        r.run(["cat", src], cwd=self.work)
        hashlib_t = summary(r.times(hash_script(src), reps, cwd=self.work))
        self.row(f"baseline: hashlib SHA-256 of {label} (own process)", hashlib_t)
        sha_t = summary(r.times(["sha256sum", src], reps, cwd=self.work))
        self.row(f"baseline: sha256sum {label}", sha_t)
        dst = os.path.join(self.work, "big.copy")

        def drop_copy(_i: int) -> None:
            if os.path.exists(dst):
                os.unlink(dst)

        cp_t = summary(r.times(["cp", src, dst], reps, cwd=self.work, before=drop_copy))
        drop_copy(0)
        self.row(f"baseline: cp {label} (page cache, no fsync)", cp_t)

        def drop_copy_and_sync(i: int) -> None:
            drop_copy(i)
            subprocess.run(["sync"], check=False)

        fresh = os.path.join(self.work, "bigreg")

        def fresh_registry(_i: int) -> None:
            new_registry(r, fresh)
            subprocess.run(["sync"], check=False)  # earlier dirty pages are not this run's cost

        # What a durable new object costs at least: its bytes written and
        # fsynced. This VM's disk swings 3-5x from one minute to the next, so
        # each dd is run right before a register: both meet the same disk.
        dd_samples, register_samples = [], []
        for _ in range(reps):
            dd_samples += r.times(["dd", f"if={src}", f"of={dst}", "bs=4M", "conv=fsync", "status=none"], 1,
                                  cwd=self.work, before=drop_copy_and_sync)
            drop_copy(0)
            register_samples += r.times([r.mreg, "register", "big", src, "-q"], 1, cwd=self.work,
                                        env={"MREG_REPO": fresh}, before=fresh_registry)
        dd_t = summary(dd_samples)
        self.row(f"baseline: dd {label} with fsync (the disk)", dd_t)
        first = summary(register_samples)
        self.row(f"register one {label} file (new object, fsynced)", first, baseline=hashlib_t,
                 baseline_name="hashlib", target="<= 1.3x hashlib", ok=first["median"] <= 1.3 * hashlib_t["median"],
                 note=f"{first['median'] / dd_t['median']:.2f}x dd with fsync")
        again = summary(r.times([r.mreg, "register", "big", src, "-q"], reps, cwd=self.work, env={"MREG_REPO": fresh}))
        self.row(f"register the same {label} again (dedup)", again, baseline=hashlib_t, baseline_name="hashlib",
                 target="<= 1.1x hashlib", ok=again["median"] <= 1.1 * hashlib_t["median"])
        subprocess.run(["sync"], check=False)  # earlier registers' writeback is not verify's cost
        verify = summary(r.times([r.mreg, "verify", "big@latest", "-q"], reps, cwd=self.work, env={"MREG_REPO": fresh}))
        self.row(f"verify {label}", verify, baseline=hashlib_t, baseline_name="hashlib", target="<= 1.2x hashlib",
                 ok=verify["median"] <= 1.2 * hashlib_t["median"])
        shutil.rmtree(fresh, ignore_errors=True)
        os.unlink(src)

    # peak memory ----------------------------------------------------------------
    def memory(self) -> None:
        r = self.runner
        size = self.sizes["sparse_file"]
        src = os.path.join(self.work, "sparse.bin")
        with open(src, "wb") as handle:
            handle.truncate(size)
        project = new_registry(r, os.path.join(self.work, "memreg"))
        elapsed, rss = r.peak_rss([r.mreg, "register", "sparse", src, "-q"], cwd=project)
        _, base_rss = r.peak_rss([sys.executable, "-c", "pass"], cwd=self.work)
        label = f"{size / GIB:g} GiB" if size >= GIB else f"{size // MIB} MiB"
        self.row(f"peak RSS registering a {label} file (sparse source)", {"median": rss / MIB, "min": rss / MIB,
                 "max": rss / MIB, "n": 1}, unit="MiB", baseline={"median": base_rss / MIB},
                 baseline_name="python -c pass RSS", target="<= 100 MB", ok=rss <= 100 * 1000 * 1000,
                 note=f"took {elapsed:.1f} s")
        shutil.rmtree(project, ignore_errors=True)
        os.unlink(src)

    # many small files -----------------------------------------------------------
    def small_files(self) -> None:
        r = self.runner
        count = self.sizes["small_files"]
        each = self.sizes["small_file_size"]
        tree = os.path.join(self.work, "tree")
        rng = random.Random(3)
        filler = rng.randbytes(each)
        for i in range(count):
            folder = os.path.join(tree, f"d{i // 500:03d}")
            if i % 500 == 0:
                os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"f{i:05d}.bin"), "wb") as handle:
                handle.write(i.to_bytes(8, "little") + filler[8:])
        reps = self.sizes["reps_big"]
        fresh = os.path.join(self.work, "treereg")

        def fresh_registry(_i: int) -> None:
            new_registry(r, fresh)
            subprocess.run(["sync"], check=False)

        samples = r.times([r.mreg, "register", "tree", tree, "-q"], reps, cwd=self.work, env={"MREG_REPO": fresh},
                          before=fresh_registry)
        rates = [count / s for s in samples]
        stats = {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "n": len(rates)}
        cp_t = summary(r.times(["cp", "-r", tree, os.path.join(self.work, "tree.copy")], 1, cwd=self.work))
        shutil.rmtree(os.path.join(self.work, "tree.copy"), ignore_errors=True)
        self.row(f"register a directory of {count:,} files ({count * each / 1e6:.0f} MB)", stats, unit="files/s",
                 baseline={"median": count / cp_t["median"]}, baseline_name="cp -r files/s",
                 target=">= 2,000 files/s", ok=stats["median"] >= 2000,
                 note=f"median {statistics.median(samples):.2f} s per register")
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(tree, ignore_errors=True)

    # a large registry -------------------------------------------------------------
    def large(self) -> None:
        r = self.runner
        models = self.sizes["models"]
        per = self.sizes["versions_per_model"]
        reps = self.sizes["reps_fast"]
        reps_big = self.sizes["reps_big"]
        artifact = os.path.join(self.work, "tiny.bin")

        def register_times(env: dict) -> dict:
            samples = []
            for i in range(reps):
                with open(artifact, "wb") as handle:
                    handle.write(f"tiny {time.time_ns()} {i}\n".encode())
                samples.append(r.mreg_cmd(["register", "model-0000", artifact, "-q"], cwd=self.work, env=env)[0])
            return summary(samples)

        small = os.path.join(self.work, "reg-100")
        shutil.rmtree(small, ignore_errors=True)
        t = time.perf_counter()
        build_big_registry(small, 1, per)
        subprocess.run(["sync"], check=False)  # the build's dirty pages are not the register's cost
        small_reg = register_times({"MREG_REPO": small})
        self.row(f"register at {per} versions (1 model)", small_reg)
        shutil.rmtree(small, ignore_errors=True)

        big = os.path.join(self.work, "reg-big")
        shutil.rmtree(big, ignore_errors=True)
        t = time.perf_counter()
        built = build_big_registry(big, models, per)
        subprocess.run(["sync"], check=False)
        build_s = time.perf_counter() - t
        total = built["versions"]
        env = {"MREG_REPO": big}
        # The first read after the build may build derived caches; that cost is
        # reported on its own, and the timed repeats are the steady state.
        probe = f"model-{models // 2:04d}"
        first_list = r.mreg_cmd(["list"], cwd=self.work, env=env)[0]
        first_search = r.mreg_cmd(["search", "metrics.accuracy > 0.9 and tags.team = 'a'"], cwd=self.work, env=env)[0]
        big_reg = register_times(env)
        self.row(f"register at {total:,} versions ({models:,} models)", big_reg, baseline=small_reg,
                 baseline_name=f"register at {per}", target="<= 1.2x", ok=big_reg["median"] <= 1.2 * small_reg["median"],
                 note=f"registry built in {build_s:.0f} s")
        base = self.python_pass()
        cases = [
            ("show NAME@production", ["show", f"{probe}@production"], 0.100, "<= 100 ms", None),
            ("history NAME", ["history", probe], 0.150, "<= 150 ms", None),
            ("search (whole process)", ["search", "metrics.accuracy > 0.9 and tags.team = 'a'"], 1.0, "<= 1 s",
             f"first run {first_search:.2f} s"),
            ("list", ["list"], 0.500, "<= 500 ms", f"first run {first_list:.2f} s"),
        ]
        for label, args, limit, target, note in cases:
            samples = summary(r.times([r.mreg, *args], reps, cwd=self.work, env=env))
            note = "; ".join(x for x in (note, f"CPU {statistics.median(r.cpu) * 1000:.0f} ms") if x)
            self.row(f"{total:,} versions: {label}", samples, baseline=base, baseline_name="python -c pass",
                     target=target, ok=samples["median"] <= limit, note=note or "")
        # A register invalidates one model: the next list pays for that model only.
        after = []
        for _ in range(min(reps, 5)):
            with open(artifact, "wb") as handle:
                handle.write(f"tiny {time.time_ns()}\n".encode())
            r.mreg_cmd(["register", "model-0001", artifact, "-q"], cwd=self.work, env=env)
            after.append(r.mreg_cmd(["list"], cwd=self.work, env=env)[0])
        self.row(f"{total:,} versions: list right after a register", summary(after), baseline=base,
                 baseline_name="python -c pass", target="<= 500 ms", ok=statistics.median(after) <= 0.5)
        gc_t = summary(r.times([r.mreg, "gc", "-q"], reps_big, cwd=self.work, env=env))
        objects = sum(len(files) for _, _, files in os.walk(os.path.join(big, ".mreg", "objects")))
        self.row(f"gc over {objects:,} objects, nothing to delete", gc_t, target="<= 10 s", ok=gc_t["median"] <= 10)
        shutil.rmtree(big, ignore_errors=True)

    # concurrency -------------------------------------------------------------------
    def parallel(self) -> None:
        r = self.runner
        n = self.sizes["parallel"]
        reps = self.sizes["reps_big"]
        files = []
        for i in range(n):
            path = os.path.join(self.work, f"par-{i}.bin")
            files.append(path)
        seq_t, par_t = [], []
        for rep in range(reps):
            for i, path in enumerate(files):
                with open(path, "wb") as handle:
                    handle.write(f"par {rep} {i} {time.time_ns()}\n".encode() * 100)
            project = new_registry(r, os.path.join(self.work, "seqreg"))
            start = time.perf_counter()
            for i, path in enumerate(files):
                r.mreg_cmd(["register", f"m{i % 4}", path, "-q"], cwd=project)
            seq_t.append(time.perf_counter() - start)
            project = new_registry(r, os.path.join(self.work, "parreg"))
            start = time.perf_counter()
            procs = [subprocess.Popen([r.mreg, "register", f"m{i % 4}", path, "-q"], cwd=project, env=r.env,
                                      stdin=subprocess.DEVNULL) for i, path in enumerate(files)]
            codes = [p.wait() for p in procs]
            par_t.append(time.perf_counter() - start)
            if any(codes):
                raise RuntimeError(f"parallel registers failed: {codes}")
            listing = json.loads(r.mreg_cmd(["list", "--json"], cwd=project)[2])
            if sum(m["versions"] for m in listing) != n:
                raise RuntimeError(f"parallel registers lost versions: {listing}")
        seq = summary(seq_t)
        par = summary(par_t)
        self.row(f"{n} small registers, sequential", seq)
        self.row(f"{n} small registers, in parallel", par, baseline=seq, baseline_name="sequential",
                 target="<= sequential", ok=par["median"] <= seq["median"])


    # matching ------------------------------------------------------------------
    def matching(self) -> None:
        """`like` with many % against ever longer text: the time must double with the text, not worse.

        Measured in this process (the filter is compiled once, matched on one
        document): names and tags may come from anyone's registry, and a
        backtracking matcher takes minutes on the first of these at 200
        characters.
        """
        sys.path.insert(0, os.path.dirname(HERE))
        from mreg.core.query import compile_filter

        patterns = [
            ("like, 9 %", "tags.t like '" + "%a" * 8 + "%c%'"),
            ("like, a _ in a middle piece", "tags.t like '%a_c%'"),
            ("ilike, 9 %", "tags.t ilike '" + "%A" * 8 + "%C%'"),
        ]
        reps = self.sizes["reps_fast"]
        for label, text in patterns:
            matcher = compile_filter(text)
            previous = None
            for length in self.sizes["like_lengths"]:
                doc = {"name": "m", "version": "1.0.0", "tags": {"t": "a" * length}}
                samples = []
                for _ in range(reps):
                    started = time.perf_counter()
                    matched = matcher.matches(doc)
                    samples.append((time.perf_counter() - started) * 1e6)
                assert not matched
                measured = summary(samples)
                ratio_ok = None if previous is None else measured["median"] <= 3 * previous["median"]
                self.row(f"{label}, {length:,} characters", measured, unit="µs",
                         baseline=previous, baseline_name="half as long" if previous else "",
                         target="<= 3x per doubling" if previous else "", ok=ratio_ok)
                previous = measured

    def site(self) -> None:
        """`mreg site` of 1,000 versions: the first build, then a rebuild that finds every page unchanged."""
        r = self.runner
        models, per_model = self.sizes["site_models"], self.sizes["site_versions"]
        project = os.path.join(self.work, "site-registry")
        build_big_registry(project, models, per_model)
        out = os.path.join(self.work, "site-out")
        reps = self.sizes["reps_big"]
        count = models * per_model

        def remove_site(_i: int) -> None:
            shutil.rmtree(out, ignore_errors=True)

        limit = 10 * count / 1000  # 10 s for 1,000 versions
        first = summary(r.times([r.mreg, "site", "-o", out, "-q"], reps, cwd=project, before=remove_site))
        self.row(f"mreg site: {count:,} versions, first build", first, target=f"<= {limit:g} s",
                 ok=first["median"] <= limit)
        again = summary(r.times([r.mreg, "site", "-o", out, "-q"], reps, cwd=project))
        self.row(f"mreg site: {count:,} versions, nothing changed", again, baseline=first,
                 baseline_name="first build", target=f"<= {limit:g} s", ok=again["median"] <= limit)

    # S3 transfers ----------------------------------------------------------------
    def s3(self) -> None:
        """One big file up and down through mreg's S3 storage and through bare s3fs, SeaweedFS on loopback.

        mreg's upload is exclusive (parts to a temporary key, then a
        conditional server-side copy); s3fs's is a plain multipart upload.
        Both run in fresh processes, alternating, against one server.
        """
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
        from server_processes import Unavailable, start_seaweedfs

        try:
            server, base, options = start_seaweedfs(Path(self.work) / "seaweedfs")
        except Unavailable as exc:
            print(f"| S3 transfers | - | - | - | - | | | | skipped: {exc} |", flush=True)
            return
        r = self.runner
        size = self.sizes["s3_file"]
        label = f"{size / GIB:g} GiB" if size >= GIB else f"{size // MIB} MiB"
        src = os.path.join(self.work, "s3-big.bin")
        back = os.path.join(self.work, "s3-back.bin")
        write_random_file(src, size, seed=11)
        url = f"{base.replace('s3://', '')}/bench"
        opts = json.dumps(options)

        multipart = json.dumps(dict(options, multipart_threshold=str(8 * MIB)))

        def argv(mode: str, key: str, opts: str = opts) -> list[str]:
            return [sys.executable, "-c", S3_TRANSFER, mode, f"s3://{url}/{key}", back if "get" in mode else src, opts]

        def transfer(mode: str, key: str, opts: str = opts) -> float:
            return float(r.run(argv(mode, key, opts), cwd=self.work)[2].decode().split()[-1])

        try:
            times: dict[str, list[float]] = {"put": [], "multipart": [], "bare-put": [], "get": [], "bare-get": []}
            for i in range(self.sizes["reps_s3"]):
                times["put"].append(transfer("mreg-put", f"mreg-{i}"))
                times["multipart"].append(transfer("mreg-put", f"multipart-{i}", multipart))
                times["bare-put"].append(transfer("bare-put", f"bare-{i}"))
            with open(src, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").digest()
            same = True
            for i in range(self.sizes["reps_s3"]):
                times["get"].append(transfer("mreg-get", f"multipart-{i}"))
                with open(back, "rb") as handle:
                    same = same and hashlib.file_digest(handle, "sha256").digest() == digest
                times["bare-get"].append(transfer("bare-get", f"bare-{i}"))
            put, multi, bare_put = summary(times["put"]), summary(times["multipart"]), summary(times["bare-put"])
            get, bare_get = summary(times["get"]), summary(times["bare-get"])
            self.row(f"S3 put_file of {label}, one streamed PUT (exclusive)", put, baseline=bare_put,
                     baseline_name="bare s3fs put", target="<= 1.3x", ok=put["median"] <= 1.3 * bare_put["median"],
                     note=f"{size / MIB / put['median']:.0f} MiB/s; SeaweedFS on loopback")
            self.row(f"S3 put_file of {label}, 8 MiB parts x 4 (exclusive)", multi, baseline=bare_put,
                     baseline_name="bare s3fs put", target="<= 1.3x", ok=multi["median"] <= 1.3 * bare_put["median"],
                     note=f"{size / MIB / multi['median']:.0f} MiB/s; published by a conditional copy")
            self.row(f"S3 get_file of {label}", get, baseline=bare_get, baseline_name="bare s3fs get",
                     target="<= 1.3x", ok=get["median"] <= 1.3 * bare_get["median"],
                     note=f"{size / MIB / get['median']:.0f} MiB/s; bytes {'identical' if same else 'DIFFER'}")
            _, base_rss = r.peak_rss([sys.executable, "-c", "import s3fs"], cwd=self.work)
            for what, command in (("put_file", argv("mreg-put", "rss-put")),
                                  ("put_file, multipart", argv("mreg-put", "rss-multipart", multipart)),
                                  ("get_file", argv("mreg-get", "multipart-0"))):
                elapsed, rss = r.peak_rss(command, cwd=self.work)
                self.row(f"peak RSS of S3 {what} of {label}", {"median": rss / MIB, "min": rss / MIB,
                         "max": rss / MIB, "n": 1}, unit="MiB", baseline={"median": base_rss / MIB},
                         baseline_name="import s3fs RSS", target="<= 150 MB", ok=rss <= 150 * 1000 * 1000,
                         note=f"took {elapsed:.1f} s")
        finally:
            server.stop()
            for path in (src, back):
                if os.path.exists(path):
                    os.unlink(path)
            shutil.rmtree(os.path.join(self.work, "seaweedfs"), ignore_errors=True)

    # remotes ----------------------------------------------------------------------
    def remote(self) -> None:
        """mreg's remote commands on S3 (SeaweedFS on loopback), each row beside what it is compared with.

        Every timed command is a fresh process. Request counts come from
        MREG_STORAGE_LOG (one line per storage operation; see
        mreg/core/remote/storage.py), in a run of their own after the timed ones.
        """
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
        from server_processes import Unavailable, start_seaweedfs

        folder = os.path.join(self.work, "seaweedfs-remote")
        try:
            server, base, options = start_seaweedfs(Path(folder))
        except Unavailable as exc:
            print(f"| remotes | - | - | - | - | | | | skipped: {exc} |", flush=True)
            return
        try:
            remote = _RemoteBench(self, base, options)
            remote.big_file()
            remote.many_versions()
            remote.peak_memory()
            remote.dvc_push()
        finally:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)
            for name in ("remote-big.bin", "remote-sparse.bin"):
                if os.path.exists(os.path.join(self.work, name)):
                    os.unlink(os.path.join(self.work, name))


# One request to S3 in a process of its own (import, client, one HEAD): what
# any command that talks to S3 costs at least.
S3_ONE_REQUEST = """
import sys, json
import s3fs
options = json.loads(sys.argv[2])
fs = s3fs.S3FileSystem(key=options["key"], secret=options["secret"], endpoint_url=options["endpoint_url"])
fs.info(sys.argv[1])
"""


class _RemoteBench:
    """The rows of the `remote` scenario, on one SeaweedFS server."""

    def __init__(self, bench: Bench, base: str, options: dict[str, str]) -> None:
        self.bench = bench
        self.r = bench.runner
        self.sizes = bench.sizes
        self.work = bench.work
        self.base = base
        self.options = options
        self.option_args = [a for k, v in options.items() for a in ("--option", f"{k}={v}")]
        self.opts_json = json.dumps(options)
        # `--repo URL` keeps its lazy clone here, and reaches the server with these options.
        self.env = {"MREG_CACHE_DIR": os.path.join(self.work, "remote-cache"),
                    "MREG_REPO_OPTIONS": " ".join(f"{k}={v}" for k, v in options.items())}
        self.log = os.path.join(self.work, "storage.log")
        self._one_request: dict | None = None

    def label(self, size: int) -> str:
        return f"{size / GIB:g} GiB" if size >= GIB else f"{size // MIB} MiB"

    def requests(self, argv: list[str], cwd: str) -> list[str]:
        """The storage operations one run of `argv` makes (MREG_STORAGE_LOG), one line each."""
        if os.path.exists(self.log):
            os.unlink(self.log)
        self.r.run(argv, cwd=cwd, env=dict(self.env, MREG_STORAGE_LOG=self.log))
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            return handle.read().splitlines()

    @staticmethod
    def describe(lines: list[str]) -> str:
        """`N requests (2 read, 1 list)`; a listing of K keys counts one request per 1,000 keys."""
        kinds: dict[str, int] = {}
        for line in lines:
            words = line.split()
            n = max(1, -(-int(words[2]) // 1000)) if words[0] == "list" else 1
            kinds[words[0]] = kinds.get(words[0], 0) + n
        total = sum(kinds.values())
        return f"{total} requests ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if total else "0 requests"

    def one_request(self) -> dict:
        """The baseline of the small rows: a process that imports s3fs and makes one request."""
        if self._one_request is None:
            argv = [sys.executable, "-c", S3_ONE_REQUEST, f"{self.base}/many/mreg-remote.json", self.opts_json]
            self._one_request = summary(self.r.times(argv, self.sizes["reps_fast"], cwd=self.work))
            self.bench.row("baseline: one bare s3fs request (own process)", self._one_request,
                           note=f"CPU {statistics.median(self.r.cpu) * 1000:.0f} ms")
        return self._one_request

    def bare(self, mode: str, url: str, path: str) -> float:
        return self.r.run([sys.executable, "-c", S3_TRANSFER, mode, url, path, self.opts_json], cwd=self.work)[0]

    # 1. one big version up, and down through a lazy clone ------------------------------
    def big_file(self) -> None:
        r, reps = self.r, self.sizes["reps_remote"]
        size = self.sizes["remote_file"]
        label = self.label(size)
        src = os.path.join(self.work, "remote-big.bin")
        back = os.path.join(self.work, "remote-back.bin")
        write_random_file(src, size, seed=21)
        with open(src, "rb") as handle:
            hexdigest = hashlib.file_digest(handle, "sha256").hexdigest()
        project = new_registry(r, os.path.join(self.work, "remote-big"))
        r.mreg_cmd(["register", "big", src, "-q"], cwd=project)
        push_t, bare_put_t = [], []
        for i in range(reps):
            r.mreg_cmd(["remote", "add", f"big{i}", f"{self.base}/big{i}", *self.option_args, "-q"], cwd=project)
            push_t.append(r.run([r.mreg, "push", f"big{i}", "-q"], cwd=project)[0])
            bare_put_t.append(self.bare("bare-put", f"{self.base}/bare/{i}", src))
        push, bare_put = summary(push_t), summary(bare_put_t)
        self.bench.row(f"push of a new {label} version", push, baseline=bare_put,
                       baseline_name="bare s3fs put (own process)", target="<= 1.3x",
                       ok=push["median"] <= 1.3 * bare_put["median"],
                       note=f"{size / MIB / push['median']:.0f} MiB/s; s3fs: 50 MiB parts x 10")
        get_t, bare_get_t = [], []
        same = True
        for i in range(reps):
            clone = os.path.join(self.work, f"remote-lazy-{i}")
            r.mreg_cmd(["clone", "--lazy", f"{self.base}/big{i}", clone, *self.option_args, "-q"], cwd=self.work)
            get_t.append(r.run([r.mreg, "get", "big@latest", "-o", back, "-f", "-q"], cwd=clone)[0])
            with open(back, "rb") as handle:
                same = same and hashlib.file_digest(handle, "sha256").hexdigest() == hexdigest
            os.unlink(back)
            shutil.rmtree(clone, ignore_errors=True)
            key = f"{self.base}/big{i}/objects/{hexdigest[:2]}/{hexdigest[2:]}"
            bare_get_t.append(self.bare("bare-get", key, back))
            os.unlink(back)
        get, bare_get = summary(get_t), summary(bare_get_t)
        self.bench.row(f"get of a {label} version from a lazy clone", get, baseline=bare_get,
                       baseline_name="bare s3fs get (own process)", target="<= 1.3x",
                       ok=get["median"] <= 1.3 * bare_get["median"],
                       note=f"{size / MIB / get['median']:.0f} MiB/s; fetched, re-hashed, copied out; "
                            f"bytes {'identical' if same else 'DIFFER'}")
        self.big_push = push
        self.big_src = src
        shutil.rmtree(project, ignore_errors=True)

    # 2-4. a registry of many versions: push with nothing or little to send, clone, --repo URL --------
    def many_versions(self) -> None:
        r = self.r
        models, per = self.sizes["remote_models"], self.sizes["remote_versions"]
        count = models * per
        where = f"{count:,} versions ({models:,} models)"
        project = os.path.join(self.work, "remote-many")
        build_big_registry(project, models, per)
        url = f"{self.base}/many"
        r.mreg_cmd(["remote", "add", "origin", url, *self.option_args, "-q"], cwd=project)
        first_push = r.mreg_cmd(["push", "-q"], cwd=project)[0]
        base = self.one_request()
        reps, reps_big = self.sizes["reps_fast"], self.sizes["reps_big"]

        noop = summary(r.times([r.mreg, "push", "-q"], reps, cwd=project))
        noop_cpu = statistics.median(r.cpu)
        counted = self.describe(self.requests([r.mreg, "push", "-q"], project))
        self.bench.row(f"{where}: push with nothing to send", noop, baseline=base, baseline_name="one s3fs request",
                       target="<= 0.5 s", ok=noop["median"] <= 0.5,
                       note=f"{counted}; CPU {noop_cpu * 1000:.0f} ms; the first push of them all took {first_push:.1f} s")

        artifact = os.path.join(self.work, "remote-small.bin")

        def change(names: list[str]) -> None:
            for name in names:
                with open(artifact, "wb") as handle:
                    handle.write(f"{name} {time.time_ns()}\n".encode())
                r.mreg_cmd(["register", name, artifact, "-q"], cwd=project)

        one = summary(r.times([r.mreg, "push", "-q"], reps, cwd=project, before=lambda _i: change(["model-0001"])))
        one_cpu = statistics.median(r.cpu)
        change(["model-0001"])
        one_counted = self.describe(self.requests([r.mreg, "push", "-q"], project))
        change(["model-0002", "model-0003", "model-0004"])
        three_counted = self.describe(self.requests([r.mreg, "push", "-q"], project))
        self.bench.row(f"{where}: push after one model changed", one, baseline=noop,
                       baseline_name="nothing to send", target="O(1) requests per model changed",
                       note=f"one model: {one_counted}; three models: {three_counted}; CPU {one_cpu * 1000:.0f} ms")

        clone = os.path.join(self.work, "remote-clone")

        def drop_clone(_i: int) -> None:
            shutil.rmtree(clone, ignore_errors=True)

        argv = [r.mreg, "clone", "--lazy", url, clone, *self.option_args, "-q"]
        cloned = summary(r.times(argv, reps_big, cwd=self.work, before=drop_clone))
        clone_cpu = statistics.median(r.cpu)
        drop_clone(0)
        clone_counted = self.describe(self.requests(argv, self.work))
        drop_clone(0)
        self.bench.row(f"{where}: clone --lazy", cloned, baseline=base, baseline_name="one s3fs request",
                       target="<= 3 s", ok=cloned["median"] <= 3, note=f"{clone_counted}; CPU {clone_cpu:.1f} s")

        # --repo URL: the first command makes the cached view; the rows are the commands after it. With
        # these options (endpoint, key, secret) the view is read by mreg's standard-library S3 reader, not s3fs.
        first = r.run([r.mreg, "list", "--repo", url], cwd=self.work, env=self.env)[0]
        for label, args in (("list", ["list"]), ("show NAME", ["show", "model-0001"])):
            argv = [r.mreg, *args, "--repo", url]
            samples = summary(r.times(argv, reps, cwd=self.work, env=self.env))
            note = f"{self.describe(self.requests(argv, self.work))}; CPU {statistics.median(r.cpu) * 1000:.0f} ms"
            if label == "list":
                note += f"; the first, which makes the cached view, took {first:.2f} s"
            self.bench.row(f"{where}: {label} --repo s3://…", samples, baseline=base,
                           baseline_name="one s3fs request", target="<= 0.5 s", ok=samples["median"] <= 0.5,
                           note=note)
        shutil.rmtree(project, ignore_errors=True)

    # 5. peak memory of moving a big version -----------------------------------------------
    def peak_memory(self) -> None:
        r = self.r
        size = self.sizes["remote_sparse"]
        label = self.label(size)
        src = os.path.join(self.work, "remote-sparse.bin")
        with open(src, "wb") as handle:
            handle.truncate(size)
        project = new_registry(r, os.path.join(self.work, "remote-rss"))
        r.mreg_cmd(["register", "sparse", src, "-q"], cwd=project)
        os.unlink(src)
        url = f"{self.base}/rss"
        r.mreg_cmd(["remote", "add", "origin", url, *self.option_args, "-q"], cwd=project)
        _, base_rss = r.peak_rss([sys.executable, "-c", "import s3fs"], cwd=self.work)
        base = {"median": base_rss / MIB}

        def row(what: str, elapsed: float, rss: int) -> None:
            self.bench.row(f"peak RSS of {what} of a {label} version", {"median": rss / MIB, "min": rss / MIB,
                           "max": rss / MIB, "n": 1}, unit="MiB", baseline=base, baseline_name="import s3fs",
                           target="<= 150 MB", ok=rss <= 150 * 1000 * 1000, note=f"took {elapsed:.1f} s")

        row("push", *r.peak_rss([r.mreg, "push", "-q"], cwd=project))
        shutil.rmtree(project, ignore_errors=True)  # its store holds the bytes: room for the next copy
        pulled = new_registry(r, os.path.join(self.work, "remote-pulled"))
        r.mreg_cmd(["remote", "add", "origin", url, *self.option_args, "-q"], cwd=pulled)
        row("pull", *r.peak_rss([r.mreg, "pull", "-q"], cwd=pulled))
        shutil.rmtree(pulled, ignore_errors=True)
        lazy = os.path.join(self.work, "remote-rss-lazy")
        r.mreg_cmd(["clone", "--lazy", url, lazy, *self.option_args, "-q"], cwd=self.work)
        out = os.path.join(self.work, "remote-rss-out.bin")
        row("get from a lazy clone", *r.peak_rss([r.mreg, "get", "sparse@latest", "-o", out, "-q"], cwd=lazy))
        shutil.rmtree(lazy, ignore_errors=True)
        os.unlink(out)

    # 6. a peer: dvc push of the same file --------------------------------------------------
    def dvc_push(self) -> None:
        r = self.r
        size = self.sizes["remote_file"]
        scenario = f"peer: dvc push of the same {self.label(size)} file"
        dvc = shutil.which("dvc")
        reason = None if dvc else "dvc is not on PATH (pip install 'dvc[s3]')"
        if dvc:
            supports = r.run([dvc, "version"], cwd=self.work, check=False)[2].decode(errors="replace")
            if "s3 (" not in supports:
                reason = "this dvc has no S3 support (pip install 'dvc[s3]')"
        if reason:
            print(f"| {scenario} | - | - | - | - | | | | skipped: {reason} |", flush=True)
            self.bench.rows.append({"scenario": scenario, "skipped": reason})
            return
        project = os.path.join(self.work, "remote-dvc")
        os.makedirs(project)
        env = {"DVC_NO_ANALYTICS": "1"}
        r.run([dvc, "init", "--no-scm", "-q"], cwd=project, env=env)
        os.link(self.big_src, os.path.join(project, "big.bin"))
        r.run([dvc, "add", "big.bin", "-q"], cwd=project, env=env)
        times = []
        for i in range(self.sizes["reps_remote"]):
            name = f"s{i}"
            r.run([dvc, "remote", "add", name, f"{self.base}/dvc-{i}"], cwd=project, env=env)
            for key, value in (("endpointurl", self.options["endpoint_url"]),
                               ("access_key_id", self.options["key"]),
                               ("secret_access_key", self.options["secret"])):
                r.run([dvc, "remote", "modify", name, key, value], cwd=project, env=env)
            times.append(r.run([dvc, "push", "-q", "-r", name], cwd=project, env=env)[0])
        measured = summary(times)
        self.bench.row(scenario, measured, baseline=self.big_push, baseline_name="mreg push",
                       note=f"{size / MIB / measured['median']:.0f} MiB/s")
        shutil.rmtree(project, ignore_errors=True)


SCENARIOS = ["startup", "big", "memory", "small_files", "large", "parallel", "matching", "site", "s3", "remote"]


def format_row(entry: dict) -> str:
    unit = entry["unit"]

    def fmt(value: float | None) -> str:
        if value is None:
            return "-"
        if unit == "s":
            return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
        if unit == "files/s":
            return f"{value:,.0f}/s"
        return f"{value:.0f} {unit}"

    ratio = f"{entry['ratio']:.2f}x" if entry["ratio"] is not None else ""
    met = {True: "yes", False: "NO", None: ""}[entry["met"]]
    return (f"| {entry['scenario']} | {fmt(entry['median'])} | {fmt(entry['min'])} | {fmt(entry['max'])} | "
            f"{entry['baseline']} {fmt(entry['baseline_median']) if entry['baseline_median'] is not None else ''} | "
            f"{ratio} | {entry['target']} | {met} | {entry['note']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (< 60 s)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    parser.add_argument("--only", metavar="LIST", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    parser.add_argument("--dir", metavar="DIR", help="where to build the data (default: a new temporary folder)")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else SCENARIOS
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    sizes = QUICK if args.quick else FULL
    workdir = tempfile.mkdtemp(prefix="mreg-bench-", dir=args.dir)
    started = time.perf_counter()
    bench = Bench(sizes, workdir, args.quick)
    print(f"mreg benchmarks ({'quick' if args.quick else 'full'}) in {workdir}; mreg = {bench.runner.mreg}")
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    bench.runner.run([bench.runner.mreg, "--help"], cwd=workdir)  # compiles bytecode once, untimed
    print("| scenario | median | min | max | baseline | ratio | target | met | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for name in SCENARIOS:
            if name in chosen:
                getattr(bench, name)()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    took = time.perf_counter() - started
    print(f"\ntook {took:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"mode": "quick" if args.quick else "full", "python": platform.python_version(),
                       "cpus": os.cpu_count(), "seconds": took, "sizes": sizes, "rows": bench.rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
