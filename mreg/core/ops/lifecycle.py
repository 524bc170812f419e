"""Stage changes: transition, promote, rollback, and the rules every one of them obeys.

All three go through `enter_stage`, the single place that records the event,
enforces exclusive stages (the previous holder is superseded, as its own
event) and remembers who held the release stage, for rollback.
"""

from __future__ import annotations

from mreg.core.config import Lifecycle
from mreg.core.repo import Repo, Transaction, document
from mreg.core.semver import Version, is_version
from mreg.core.wording import name as spelled
from mreg.errors import RefusedError, UsageError


def _set_stage(tx: Transaction, record: dict, stage: str) -> str:
    """Put a version record in `stage` as of this transaction; return the stage it left."""
    source = record["stage"]
    record["stage"] = stage
    record["stage_changed_at"] = tx.now
    return source


def enter_stage(tx: Transaction, model: dict, version: str, target: str, action: str, reason: str,
                condition: dict | None = None, *, override: bool = False) -> None:
    """Move `version` to `target`, superseding any other holder of an exclusive stage.

    A protected stage first takes its approvals (`check_entry`); every way
    into a stage but rollback comes through here, so none can skip them.
    `condition` is the condition the move met, with the values it read
    (mreg/core/ops/gates.py), recorded with the event for the reader; replay
    does not need it.
    """
    from mreg.core.ops.approvals import check_entry

    check_entry(tx, model, version, stage=target, override=override, reason=reason)
    lifecycle = tx.registry.lifecycle
    source = _set_stage(tx, model["versions"][version], target)
    details = {"stage_changed_at": tx.now}
    if condition is not None:
        details["condition"] = condition
    if target == lifecycle.release and action != "rollback":
        model["released"].append(version)
        details["released"] = model["released"]  # the whole list, so that replay reproduces it
    tx.record(model, action, version, source=source, target=target, reason=reason, details=details)
    if target in lifecycle.exclusive:
        for other, other_record in model["versions"].items():
            if other != version and other_record["stage"] == target:
                _set_stage(tx, other_record, lifecycle.retired)
                tx.record(model, "supersede", other, source=target, target=lifecycle.retired,
                          reason=f"superseded by {version}", details={"by": version, "stage_changed_at": tx.now})


def refuse_move(lifecycle: Lifecycle, name: str, version: str, source: str, target: str) -> RefusedError:
    allowed = ", ".join(lifecycle.transitions.get(source, ())) or "nothing (final stage)"
    return RefusedError(
        f"{name}@{version} cannot move from {source} to {target}; from {source} it may move to: {allowed}",
        hint="the allowed moves are the [lifecycle.transitions] table in .mreg/config.toml",
    )


def promotion_steps(lifecycle: Lifecycle, name: str, version: str, current: str, target: str | None) -> list[str]:
    """The stages a promotion passes through, each step checked against the table."""
    path = lifecycle.promotion
    if current not in path:
        raise RefusedError(
            f"{name}@{version} is in {current}, which is not on the promotion path ({' → '.join(path)})"
        )
    position = path.index(current)
    if target is None:
        if position == len(path) - 1:
            raise RefusedError(f"{name}@{version} is already in {current}, the end of the promotion path")
        steps = [path[position + 1]]
    else:
        lifecycle.check_stage(target)
        if target not in path:
            raise RefusedError(f"{target} is not on the promotion path ({' → '.join(path)})",
                               hint=f"use `mreg transition {name}@{version} {target}` for other moves")
        goal = path.index(target)
        if goal <= position:
            raise RefusedError(
                f"{name}@{version} is in {current}; {target} is not ahead of it on the promotion path"
            )
        steps = list(path[position + 1 : goal + 1])
    source = current
    for step in steps:
        if not lifecycle.allowed(source, step):
            raise refuse_move(lifecycle, name, version, source, step)
        source = step
    return steps


def _ever_released(tx: Transaction, name: str, release: str) -> set[str]:
    """The versions the model's history shows entering the release stage."""
    from mreg.core.history import read_events

    model = tx.model(name)
    meta = model["history"]
    events = read_events(tx.registry.layout.history_path(name), meta["events"], meta["head"], name)
    return {e.get("version") for e in events if e.get("to") == release}


def _refuse_rollback_to(name: str, to: str, holder: str | None, versions: dict, released: set[str],
                        lifecycle: Lifecycle, possible: list[str]) -> RefusedError:
    """Why `to` cannot be rolled back to, and which versions can."""
    release = lifecycle.release
    if to == holder:
        why = f"{name}@{to} is the current {release} version"
    elif to not in versions:
        why = f"{name}@{to} was removed" if to in released else f"{name}@{to} does not exist"
    elif to not in released:
        why = f"{name}@{to} has never been in {release}"
    else:
        why = f"{name}@{to} is {lifecycle.archived}"
    return RefusedError(f"cannot roll back to {to}: {why}",
                        hint=f"versions {name} can be rolled back to: {', '.join(possible) or 'none'}")


def _clean_reason(reason: str | None) -> str:
    """The reason as the history records it: stripped, and '' when none was given."""
    return (reason or "").strip()


def _check_override(registry: Repo, override: bool, reason: str) -> None:
    if override:
        from mreg.core.ops.approvals import check_override

        check_override(registry, reason)


def transition(registry: Repo, ref: str, stage: str, reason: str = "", condition: str | None = None,
               if_missing: str = "fail", *, override: bool = False) -> dict:
    from mreg.core.ops.gates import compile_condition, gate_move

    lifecycle = registry.lifecycle
    lifecycle.check_stage(stage)
    gate = compile_condition(condition, if_missing)
    _check_override(registry, override, reason)
    with registry.transaction() as tx:
        model, version = tx.lookup(ref)
        current = model["versions"][version]["stage"]
        if current == stage:
            raise RefusedError(f"{model['name']}@{version} is already in {stage}")
        if not lifecycle.allowed(current, stage):
            refusal = refuse_move(lifecycle, model["name"], version, current, stage)
            try:
                promotion_steps(lifecycle, model["name"], version, current, stage)
            except RefusedError:
                raise refusal from None
            # A stage further along the promotion path: promote walks there step by step.
            refusal.hint = f"use `mreg promote {model['name']}@{version} --to {stage}` to walk the promotion path"
            raise refusal
        met = gate_move(tx, model, version, gate, if_missing)
        enter_stage(tx, model, version, stage, "transition", _clean_reason(reason), condition=met,
                    override=override)
    return document(model["name"], model["versions"][version])


def promote(registry: Repo, ref: str, to: str | None = None, reason: str = "", condition: str | None = None,
            if_missing: str = "fail", *, override: bool = False) -> dict:
    from mreg.core.ops.gates import compile_condition, gate_move

    lifecycle = registry.lifecycle
    if to is not None:
        lifecycle.check_stage(to)
    gate = compile_condition(condition, if_missing)
    _check_override(registry, override, reason)
    with registry.transaction() as tx:
        model, version = tx.lookup(ref)
        current = model["versions"][version]["stage"]
        steps = promotion_steps(lifecycle, model["name"], version, current, to)
        # Checked once, before the first step: every step of the move is recorded with it.
        met = gate_move(tx, model, version, gate, if_missing)
        for step in steps:
            enter_stage(tx, model, version, step, "promote", _clean_reason(reason), condition=met,
                        override=override)
    return document(model["name"], model["versions"][version])


def rollback(registry: Repo, name: str, to: str | None = None, reason: str = "", *,
             override: bool = False) -> dict:
    """Return the release stage to its previous holder (or to `to`, an earlier holder).

    `released` lists, oldest first, the versions that entered the release
    stage. Rolling back drops the entries after the target, so a second
    rollback walks further back rather than back and forth.
    """
    lifecycle = registry.lifecycle
    release = lifecycle.release
    if "@" in name:
        raise UsageError(f"rollback takes a model name, not a reference: {name!r}",
                         hint=f"choose the version to return to with {spelled('to')}")
    if to is not None:
        if not is_version(to):
            raise UsageError(f"invalid version {to!r} for {spelled('to')}")
        to = str(Version.parse(to))
    _check_override(registry, override, reason)
    with registry.transaction() as tx:
        model = tx.model(name)
        versions = model["versions"]
        current = [v for v, r in versions.items() if r["stage"] == release]
        # With no holder (it was removed, or moved out by hand), a rollback
        # still puts back the one before: it is the only way back for a
        # version that was deprecated when the holder replaced it.
        holder = current[0] if current else None
        log = model["released"]
        # Earlier holders, newest first, that still exist and are not archived.
        position = max((i for i, v in enumerate(log) if v == holder), default=len(log))
        earlier = [
            (i, v) for i, v in reversed(list(enumerate(log[:position])))
            if v in versions and v != holder and versions[v]["stage"] != lifecycle.archived
        ]
        if to is not None:
            matches = [(i, v) for i, v in earlier if v == to]
            released = set() if matches else _ever_released(tx, name, release)
            if matches:
                position_to, target = matches[0]
            elif to != holder and to in versions and versions[to]["stage"] != lifecycle.archived \
                    and to in released:
                # A version that held the release stage after the current one
                # (an earlier rollback walked past it): returning to it is a
                # new release, pushed on top so the next rollback comes back here.
                log.append(to)
                position_to, target = len(log) - 1, to
            else:
                # Earlier holders first (newest first), then those a rollback walked past.
                possible = [v for _, v in earlier]
                possible += sorted((v for v in released if v not in possible and v != holder and v in versions
                                    and versions[v]["stage"] != lifecycle.archived),
                                   key=Version.parse, reverse=True)
                raise _refuse_rollback_to(name, to, holder, versions, released, lifecycle, possible)
        elif earlier:
            position_to, target = earlier[0]
        else:
            raise RefusedError(f"{name} has no earlier {release} version to roll back to")
        why = _clean_reason(reason)
        rule = registry.config.policy.rule(stage=release)
        if rule is not None and rule.rollback_requires_approval:
            from mreg.core.ops.approvals import check_entry

            check_entry(tx, model, target, stage=release, override=override, reason=why)
        if holder is not None:
            _set_stage(tx, versions[holder], lifecycle.retired)
            tx.record(model, "rollback", holder, source=release, target=lifecycle.retired, reason=why,
                      details={"replaced_by": target, "stage_changed_at": tx.now})
        source = _set_stage(tx, versions[target], release)
        del log[position_to + 1 :]
        details = {"replaces": holder} if holder is not None else {}
        tx.record(model, "rollback", target, source=source, target=release, reason=why,
                  details={**details, "stage_changed_at": tx.now, "released": log})
    return document(name, versions[target])
