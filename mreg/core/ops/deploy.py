"""deploy, undeploy, deployments: which versions serve where, and with which share of the traffic.

mreg records the desired state and never serves traffic itself. Each
environment of a model has a split ({VERSION: PCT}, summing to 100, see
mreg/core/split.py) in the model's index (`deployments`); every change is a
`deploy` or `undeploy` event whose details hold the environment and the
split before (`from`) and after (`to`), so that replay, `--rollback` and
`--at` need nothing else.

`deploy_in` and `undeploy_in` do their work inside a transaction the caller
holds, so a check (a gate, an approval) can run in the same transaction before
it commits. Stage moves never touch a split: a version that leaves the stages
an environment allows keeps its traffic and is reported as drift.
"""

from __future__ import annotations

from collections.abc import Mapping

from mreg.core import split as splits
from mreg.core.names import parse_reference
from mreg.core.replay import apply_split
from mreg.core.repo import Repo, Transaction
from mreg.core.rules import Environment
from mreg.core.schema import is_environment
from mreg.core.semver import Version
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.errors import NotFoundError, RefusedError, UsageError


def check_environment(env: object) -> str:
    """An environment name as given, else UsageError (exit 2)."""
    if not is_environment(env):
        raise UsageError(f"invalid environment {str(env)[:60]!r}: a-z, 0-9, _ and -, starting with a letter",
                         hint="e.g. prod, staging, eu-west")
    return env


def current_split(model: dict, env: str) -> dict[str, int]:
    entry = (model.get("deployments") or {}).get(env)
    return dict(entry["traffic"]) if entry else {}


# --- the rules ---------------------------------------------------------------------

def refuse_ineligible(tx: Transaction, model: dict, version: str, env: str) -> None:
    """Refuse (exit 1, naming the rule) a version that may not receive traffic in `env`."""
    name = model["name"]
    record = model["versions"].get(version)
    if record is None:
        if version in model["removed"]:
            raise RefusedError(f"{name}@{version} was removed: a removed version cannot receive traffic")
        raise NotFoundError(f"{name} has no version {version}")
    lifecycle = tx.registry.lifecycle
    stage = record["stage"]
    if stage == lifecycle.archived:
        raise RefusedError(f"{name}@{version} is {stage}: an archived version cannot receive traffic")
    environment = tx.registry.config.environment(env)
    if not environment.allows(stage):
        raise RefusedError(
            f"{name}@{version} is in {stage}; {env} takes only versions in {', '.join(environment.stages)}",
            hint=f"[environments.{env}] stages in .mreg/config.toml sets which stages may receive traffic there")


def drift(model: dict, split: dict[str, int], environment: Environment, archived: str) -> list[dict]:
    """The versions with traffic that are no longer in a stage the environment allows (or archived)."""
    found = []
    for version, share in splits.ordered(split).items():
        record = model["versions"].get(version)
        if record is None:
            continue
        stage = record["stage"]
        if stage == archived:
            problem = f"{version} is {stage} but still receives {share}% of {environment.name}"
        elif not environment.allows(stage):
            problem = (f"{version} is in {stage} but still receives {share}% of {environment.name}, "
                       f"which takes only {', '.join(environment.stages)}")
        else:
            continue
        found.append({"version": version, "stage": stage, "traffic": share, "problem": problem})
    return found


# --- changing a split --------------------------------------------------------------

def change_split(tx: Transaction, model: dict, env: str, new: dict[str, int], *, version: str | None,
                 reason: str, rollback: bool = False, condition: dict | None = None) -> dict:
    """Record and apply one change of `env`'s split; return the deployment document afterwards.

    The action is `undeploy` when a version leaves (or the split empties),
    else `deploy`. `condition` is the `--if` the change met, with the values
    it read, recorded for the reader (replay does not need it).
    """
    old = current_split(model, env)
    new = splits.ordered(new)
    action = "undeploy" if not new or (version is not None and version in old and version not in new) else "deploy"
    details = {"env": env, "from": splits.ordered(old), "to": new}
    if rollback:
        details["rollback"] = True
    if condition is not None:
        details["condition"] = condition
    event = tx.record(model, action, version, reason=reason, details=details)
    apply_split(model, env, new, event["time"], event["user"])
    result = _document(tx.registry, model, env)
    result["version"] = version
    result["from"] = details["from"]
    result["left"] = sorted((v for v in old if v not in new), key=Version.parse)
    result["changed"] = True
    return result


def _unchanged(registry: Repo, model: dict, env: str) -> dict:
    result = _document(registry, model, env)
    result.update({"version": None, "from": result["traffic"], "left": [], "changed": False})
    return result


def deploy_in(tx: Transaction, ref: str, env: str, *, traffic: int | None = None,
              split: Mapping[str, int] | str | None = None, rollback: bool = False, reason: str = "",
              condition: str | None = None, if_missing: str = "fail", override: bool = False) -> dict:
    """Change `env`'s split inside transaction `tx` (see `deploy`); the deployment document afterwards.

    A version that enters a protected environment takes its approvals first
    (`override`: an admin enters without them, recorded); a rollback of the
    split is exempt, as a stage rollback is. `condition` must hold for REF.
    """
    from mreg.core.ops.approvals import check_entry
    from mreg.core.ops.gates import gate_move

    check_environment(env)
    check_text(reason, spelled("reason"))
    reason = (reason or "").strip()
    chosen = [flag for flag, given in (("traffic", traffic is not None), ("split", split is not None),
                                       ("rollback", rollback)) if given]
    if len(chosen) > 1:
        raise UsageError(f"{spelled(chosen[0])} and {spelled(chosen[1])} cannot be combined")
    reference = parse_reference(ref)
    if split is not None or rollback:
        if reference.selector is not None:
            raise UsageError(f"{spelled(chosen[0])} takes a model name, not a reference",
                             hint=f"give {reference.name} alone, without @{reference.selector}")
        if condition is not None:
            raise UsageError(f"{spelled('condition')} takes one version (NAME@VERSION), not "
                             f"{spelled(chosen[0])}")
        wanted = splits.parse_split(split) if split is not None else None
        model = tx.model(reference.name)
        if wanted is None:
            wanted = _before_last_change(tx, model, env)
        old = current_split(model, env)
        for version in sorted(wanted, key=Version.parse):
            refuse_ineligible(tx, model, version, env)
            if not rollback and version not in old:
                check_entry(tx, model, version, env=env, override=override, reason=reason)
        if wanted == current_split(model, env):
            return _unchanged(tx.registry, model, env)
        return change_split(tx, model, env, wanted, version=None, reason=reason, rollback=rollback)
    percent = splits.check_percent(traffic) if traffic is not None else splits.TOTAL
    model, version = tx.lookup(ref)  # NAME@…: a bare NAME is refused here
    refuse_ineligible(tx, model, version, env)
    old = current_split(model, env)
    met = gate_move(tx, model, version, condition, if_missing)
    if version not in old:
        check_entry(tx, model, version, env=env, override=override, reason=reason)
    if percent < splits.TOTAL and not any(v != version for v in old):
        raise RefusedError(
            f"{env} has no other version of {model['name']} to take the other {splits.TOTAL - percent}%",
            hint=f"deploy {model['name']}@{version} at 100% first (the default), or set the whole split with "
                 f"{spelled('split')}")
    new, _ = splits.with_share(old, version, percent)
    if new == old:
        return _unchanged(tx.registry, model, env)
    return change_split(tx, model, env, new, version=version, reason=reason, condition=met)


def _before_last_change(tx: Transaction, model: dict, env: str) -> dict[str, int]:
    """The split `env` had before its last change, read from the history (exactly as it was)."""
    from mreg.core.history import read_events

    meta = model["history"]
    events = read_events(tx.registry.layout.history_path(model["name"]), meta["events"], meta["head"],
                         model["name"])
    for event in reversed(events):
        if event["action"] in ("deploy", "undeploy") and event["details"]["env"] == env:
            return dict(event["details"]["from"])
    raise RefusedError(f"{model['name']} has never been deployed to {env}: there is no earlier split to return to")


def deploy(registry: Repo, ref: str, env: str, *, traffic: int | None = None,
           split: Mapping[str, int] | str | None = None, rollback: bool = False, reason: str = "",
           condition: str | None = None, if_missing: str = "fail", override: bool = False) -> dict:
    """Give `ref` `traffic`% of `env` (default 100), set the whole `split`, or `rollback` the last change."""
    from mreg.core.ops.approvals import check_override
    from mreg.core.ops.gates import compile_condition

    check_environment(env)
    gate = compile_condition(condition, if_missing)  # a malformed condition is refused before the lock
    if override:
        check_override(registry, reason)
    with registry.transaction() as tx:
        return deploy_in(tx, ref, env, traffic=traffic, split=split, rollback=rollback, reason=reason,
                         condition=gate, if_missing=if_missing, override=override)


def undeploy_in(tx: Transaction, ref: str, env: str, *, reason: str = "") -> dict:
    """Take `ref` out of `env` inside transaction `tx`; the others are scaled up to 100."""
    check_environment(env)
    check_text(reason, spelled("reason"))
    model, version = tx.lookup(ref)
    old = current_split(model, env)
    if version not in old:
        where = ", ".join(f"{e} ({s}%)" for e, s in _serving(model, version))
        raise RefusedError(f"{model['name']}@{version} receives no traffic in {env}",
                           hint=(f"it serves in: {where}" if where else "it receives no traffic anywhere")
                           + f"; `mreg deployments {model['name']}` shows every split")
    new, _ = splits.without(old, version)
    return change_split(tx, model, env, new, version=version, reason=(reason or "").strip())


def undeploy(registry: Repo, ref: str, env: str, *, reason: str = "") -> dict:
    """Take `ref` out of `env`; the versions still there are scaled up to 100."""
    check_environment(env)
    with registry.transaction() as tx:
        return undeploy_in(tx, ref, env, reason=reason)


def undeploy_everywhere(tx: Transaction, model: dict, version: str, reason: str) -> None:
    """Take `version` out of every environment it serves (before a forced removal), each an event."""
    for env, _ in _serving(model, version):
        new, _ = splits.without(current_split(model, env), version)
        change_split(tx, model, env, new, version=version, reason=reason)


def _serving(model: dict, version: str) -> list[tuple[str, int]]:
    return [(env, entry["traffic"][version]) for env, entry in sorted((model.get("deployments") or {}).items())
            if version in entry["traffic"]]


# --- reading -----------------------------------------------------------------------

def _document(registry: Repo, model: dict, env: str) -> dict:
    entry = (model.get("deployments") or {}).get(env)
    split = splits.ordered(entry["traffic"]) if entry else {}
    return {
        "name": model["name"],
        "env": env,
        "traffic": split,
        "since": entry["since"] if entry else None,
        "by": entry["by"] if entry else None,
        "drift": drift(model, split, registry.config.environment(env), registry.lifecycle.archived),
    }


def deployments(registry: Repo, name: str | None = None, *, env: str | None = None,
                at: str | None = None) -> list[dict]:
    """Every environment's split (of model `name`, of environment `env`), now or at time `at`.

    At a past time the model's history is replayed up to that moment, and
    drift is judged by the stages the versions were in then.
    """
    from mreg.core import index as index_mod
    from mreg.core.names import validate_name

    if env is not None:
        check_environment(env)
    registry.config  # drift is judged by its [environments] tables: a damaged one is reported, always
    when = _moment(at) if at is not None else None
    if name is not None:
        validate_name(name)
        names = [name]
    else:
        names = registry.model_names()
    documents = []
    for model_name in names:
        model = index_mod.load_model(registry.layout, model_name)
        if model is None or (name is not None and not model["versions"] and when is None
                             and not model["removed"]):
            from mreg.core.repo import no_model

            raise no_model(model_name)
        if when is not None:
            model = _model_at(registry, model, when)
        for environment in sorted(model.get("deployments") or {}):
            if env is None or environment == env:
                documents.append(_document(registry, model, environment))
    return documents


def _moment(at: str) -> str:
    from mreg.core.timeparse import format_time, parse_when

    return format_time(parse_when(at))


def _model_at(registry: Repo, model: dict, when: str) -> dict:
    """The model's index as its history left it at `when` (a stored-format time; string order is time order)."""
    from mreg.core.history import read_events
    from mreg.core.replay import NotReplayable, rebuild

    meta = model["history"]
    events = read_events(registry.layout.history_path(model["name"]), meta["events"], meta["head"], model["name"])
    earlier = [e for e in events if e["time"] <= when]
    try:
        return rebuild(model["name"], earlier)
    except NotReplayable:
        # A history begun by an earlier mreg: its stage moves cannot be replayed, its splits can.
        past = {"name": model["name"], "versions": {}}
        for event in earlier:
            if event["action"] in ("deploy", "undeploy"):
                apply_split(past, event["details"]["env"], event["details"]["to"], event["time"], event["user"])
        return past
