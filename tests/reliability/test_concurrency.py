"""SPEC §7, concurrency: 16 writers at once, with gc (--grace 0s) in a loop and
readers alongside, over several rounds: nothing lost, no version number handed
out twice or skipped, never two holders of an exclusive stage, every event
recorded, and readers never fail or see half-written state."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from rel import check_registry, cli, init_registry, read_indexes, scale, sha, tally

WRITERS = 16
LOCK = ("--lock-timeout", "300")


def test_sixteen_writers_with_gc_and_readers(tmp_path):
    project = init_registry(tmp_path / "project")
    src = tmp_path / "src"
    src.mkdir()
    same = src / "same.bin"
    same.write_bytes(b"identical bytes for every writer" * 1000)
    rng = random.Random(7)
    rounds = scale(2, 12)
    steps = scale(2, 3)

    expected: dict[str, str] = {}  # NAME@VERSION -> digest of what get must return
    shared_versions: list[str] = []  # versions handed to successful registers of `shared`
    ok_ops: dict[str, int] = {}
    removed: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    reader_runs = [0]
    problems: list[str] = []

    # Seed models the lifecycle writers work on.
    for i in range(3):
        f = src / f"seed{i}.bin"
        f.write_bytes(f"seed {i}".encode())
        doc = cli(project, "register", f"life{i}", f, "--json", expect=0).json
        cli(project, "register", f"life{i}", f, expect=0)  # a second version (same bytes)
        expected[f"life{i}@1.0.0"] = expected[f"life{i}@1.0.1"] = doc["digest"]

    def note(kind: str) -> None:
        with lock:
            ok_ops[kind] = ok_ops.get(kind, 0) + 1

    def writer(n: int, round_: int, steps: int) -> None:
        r = random.Random(round_ * 100 + n)
        for step in range(steps):
            role = (n + step) % 8
            if role in (0, 1, 2):  # one model, automatic bumps
                f = src / f"w{n}-{round_}-{step}.bin"
                f.write_bytes(f"shared {n} {round_} {step}".encode() * 50)
                run = cli(project, "register", "shared", f, "--json", *LOCK, expect=0)
                with lock:
                    shared_versions.append(run.json["version"])
                    expected[f"shared@{run.json['version']}"] = "sha256:" + sha(f.read_bytes())
                note("register")
            elif role == 3:  # identical bytes into many models, racing gc on a shared object
                run = cli(project, "register", f"dup{n % 4}", same, "--json", *LOCK, expect=0)
                ref = f"dup{n % 4}@{run.json['version']}"
                note("register")
                if r.random() < 0.5:
                    cli(project, "rm", ref, "--force", *LOCK, expect=0)
                    note("rm")
                    with lock:
                        removed.add(ref)
                else:
                    with lock:
                        expected[ref] = "sha256:" + sha(same.read_bytes())
            elif role == 4:
                run = cli(project, "promote", f"life{n % 3}@1.0.{r.randrange(2)}", "--to", "production",
                          "--reason", "race", *LOCK, expect=(0, 1))
                if run.code == 0:
                    note("promote")
            elif role == 5:
                stage = r.choice(["testing", "staging", "development", "production"])
                run = cli(project, "transition", f"life{n % 3}@1.0.{r.randrange(2)}", stage, "--reason", "race",
                          *LOCK, expect=(0, 1))
                if run.code == 0:
                    note("transition")
            elif role == 6:
                cli(project, "update", f"life{n % 3}@1.0.{r.randrange(2)}", "-t", f"w{n}=r{round_}",
                    "-m", f"acc=0.{n}", *LOCK, expect=0)
                note("update")
            else:  # a different model per writer
                f = src / f"own{n}-{round_}-{step}.bin"
                f.write_bytes(f"own {n} {round_} {step}".encode())
                run = cli(project, "register", f"own{n}", f, "--json", *LOCK, expect=0)
                with lock:
                    expected[f"own{n}@{run.json['version']}"] = "sha256:" + sha(f.read_bytes())
                note("register")

    def gc_loop() -> None:
        while not stop.is_set():
            cli(project, "gc", "--grace", "0s", "-q", *LOCK, expect=0)
            tally("concurrency: gc runs during writes")

    def reader() -> None:
        while not stop.is_set():
            for args in (["list", "--json"], ["search", "stage = 'production'", "--json"],
                         ["history", "--json", "--limit", "50"], ["show", "shared", "--json"]):
                run = cli(project, *args)
                if run.code != 0 and not (args[0] == "show" and run.code == 1):
                    problems.append(repr(run))
                    continue
                try:
                    doc = json.loads(run.out) if run.code == 0 else None
                except ValueError:
                    problems.append(f"half-written output: {run!r}")
                    continue
                if args[0] == "search":
                    names = [d["name"] for d in doc]
                    if len(names) != len(set(names)):
                        problems.append(f"two versions in production at once: {names}")
                reader_runs[0] += 1

    for round_ in range(rounds):
        stop.clear()
        background = [threading.Thread(target=gc_loop), threading.Thread(target=reader)]
        for t in background:
            t.start()
        with ThreadPoolExecutor(WRITERS) as pool:
            for fut in [pool.submit(writer, n, round_, steps) for n in range(WRITERS)]:
                fut.result()
        stop.set()
        for t in background:
            t.join()
        assert not problems, problems[:3]
        # Versions of `shared`: each handed out once, none skipped.
        assert len(shared_versions) == len(set(shared_versions)), "a version number was handed out twice"
        patches = sorted(int(v.split(".")[2]) for v in shared_versions)
        assert patches == list(range(len(patches))), f"version numbers skipped: {patches}"
    tally("concurrency: writers x rounds", WRITERS * rounds)
    tally("concurrency: successful write commands", sum(ok_ops.values()))
    tally("concurrency: reader commands during writes", reader_runs[0])

    cli(project, "gc", "--grace", "0s", expect=0)
    told = set(expected) | removed  # every NAME@VERSION a register told its writer it made
    for ref in removed:
        expected.pop(ref, None)
    indexes = check_registry(project, {}, gets="all")
    events = cli(project, "history", "--json", expect=0).json
    # A version is lost when what its writer was told is not what the registry holds at
    # the end: not in the index with its digest (unless the test removed it), or no
    # register event for it in the history.
    in_history = {f"{e['name']}@{e['version']}" for e in events if e["action"] == "register"}
    lost = sorted(ref for ref in told if ref not in in_history)
    for ref, digest in expected.items():
        name, version = ref.split("@")
        if indexes.get(name, {}).get("versions", {}).get(version, {}).get("digest") != digest:
            lost.append(ref)
    tally("concurrency: versions writers were told they registered", len(told))
    tally("concurrency: lost versions", len(lost))
    assert not lost, f"lost or changed: {lost[:5]}"
    # No lost event: every successful command left its event.
    counts: dict[str, int] = {}
    for e in events:
        counts[e["action"]] = counts.get(e["action"], 0) + 1
    assert counts.get("register", 0) == ok_ops.get("register", 0) + 6
    assert counts.get("rm", 0) == ok_ops.get("rm", 0)
    assert counts.get("update", 0) == ok_ops.get("update", 0)
    assert counts.get("transition", 0) >= ok_ops.get("transition", 0)
    assert counts.get("promote", 0) >= ok_ops.get("promote", 0)
