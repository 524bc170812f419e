"""`approve`, `reject` and `approvals`, and `check_entry`: the one check every way into a protected
stage or environment goes through.

`check_entry` runs inside the transaction that makes the move, under the
lock, so the approvals it counts are the ones the move is made on. Promote
(each step), transition and register --stage reach it through
`lifecycle.enter_stage`, a rollback that its rule covers calls it directly,
and deploy calls it for an environment.
"""

from __future__ import annotations

from mreg.core import policy
from mreg.core.repo import Repo, Transaction
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.errors import RefusedError, UsageError


def _target(registry: Repo, stage: str | None, env: str | None) -> tuple[str, str]:
    """("stage", STAGE) or ("env", ENV) from the caller's choice of exactly one."""
    if (stage is None) == (env is None):
        raise UsageError(f"give one of {spelled('stage')} and {spelled('env')}: the stage or environment "
                         "the approval is for")
    if env is not None:
        import re

        if not re.fullmatch(r"[a-z][a-z0-9_-]*", env, re.ASCII):
            raise UsageError(f"invalid environment {env!r}: a lower-case letter, then letters, digits, _ or -")
        return "env", env
    registry.lifecycle.check_stage(stage)  # type: ignore[arg-type]
    return "stage", stage  # type: ignore[return-value]


def _rule_or_refuse(registry: Repo, kind: str, target: str):
    rule = registry.config.policy.rule(**{kind: target})
    if rule is None:
        where = f"[environments.{target}]" if kind == "env" else f"[policy.stages.{target}]"
        raise RefusedError(f"{policy.describe_target(kind, target)} needs no approvals: nothing to approve",
                           hint=f"approvals are configured by {where} in .mreg/config.toml")
    return rule


def _entered(model: dict, version: str, kind: str, target: str) -> bool:
    if kind == "env":
        return version in model.get("deployments", {}).get(target, {}).get("traffic", {})
    return model["versions"][version]["stage"] == target


def decide(registry: Repo, decision: str, ref: str, *, stage: str | None = None, env: str | None = None,
           reason: str = "") -> dict:
    """Record an approval or a rejection of `ref` entering `stage` (or environment `env`); return the record."""
    reason = check_text((reason or "").strip(), spelled("reason"))
    if decision == policy.REJECT and not reason:
        raise UsageError(f"a rejection needs {spelled('reason')}: say what must change")
    kind, target = _target(registry, stage, env)
    rule = _rule_or_refuse(registry, kind, target)
    user = registry.user
    with registry.transaction() as tx:
        model, version = tx.lookup(ref)
        label = f"{model['name']}@{version}"
        where = policy.describe_target(kind, target)
        if _entered(model, version, kind, target):
            raise RefusedError(f"{label} is already in {where}: there is nothing left to {decision}")
        if not rule.may_approve(user):
            raise RefusedError(f"{user} may not {decision} {label} for {where}: approvers are "
                               f"{', '.join(rule.approvers)}", hint="set MREG_USER to who you are; the approvers "
                               "are in .mreg/config.toml")
        if not rule.self_approval and user == model["versions"][version]["created_by"]:
            raise RefusedError(f"{user} registered {label} and may not {decision} it for {where} "
                               "(self_approval = false)", hint="ask another approver")
        mine = [r for r in policy.standing(model, version, kind, target, tx.now) if r["by"] == user]
        if any(r["decision"] == decision for r in mine):
            earlier = next(r for r in mine if r["decision"] == decision)
            done = "approved" if decision == policy.APPROVE else "rejected"
            raise RefusedError(f"{user} already {done} {label} for {where} at {earlier['at']}",
                               hint="each approver counts once; `mreg approvals` lists them")
        record = policy.new_record(model, decision, version, kind, target, user, tx.now, reason, rule.expire)
        withdraws = [r["id"] for r in mine]
        policy.add(model, record, withdraws, tx.now)
        stage_now = model["versions"][version]["stage"]
        tx.record(model, decision, version, source=stage_now, target=stage_now, reason=reason,
                  details={"record": record, "withdraws": withdraws})
    return {"name": model["name"], **record}


def listing(registry: Repo, ref: str) -> dict:
    """Every approval and rejection of one version, how each stands, and what each protected target still needs."""
    from mreg.core.timeparse import format_time, utc_now

    config = registry.config.policy  # a damaged policy is reported before anything else
    model, version = registry.lookup(ref)
    now = format_time(utc_now())
    records = [{"name": model["name"], **r, "status": policy.status(r, model, now)}
               for r in model.get("approvals", ()) if r["version"] == version]
    targets = [("stage", s, rule) for s, rule in config.stages.items()]
    targets += [("env", e, env.rule) for e, env in config.environments.items() if env.rule is not None]
    needs = []
    for kind, target, rule in targets:
        problems, counted = policy.missing(rule, model, version, kind, target, now)
        needs.append({kind: target, "approvals": rule.approvals, "approved_by": [r["by"] for r in counted],
                      "entered": _entered(model, version, kind, target),
                      "missing": problems})
    return {"name": model["name"], "version": version, "approvals": records, "targets": needs}


def check_entry(tx: Transaction, model: dict, version: str, *, stage: str | None = None, env: str | None = None,
                override: bool = False, reason: str = "") -> None:
    """Refuse `version` entering `stage` (or environment `env`) without the approvals its rule asks.

    With `override`, an admin enters anyway; the override is recorded, with
    what was missing, as an `override` event before the move.
    """
    kind, target = ("env", env) if env is not None else ("stage", stage)
    config = tx.registry.config.policy
    rule = config.rule(**{kind: target})
    if rule is None:
        return
    problems, counted = policy.missing(rule, model, version, kind, target, tx.now)  # type: ignore[arg-type]
    if not problems:
        return
    label = f"{model['name']}@{version}"
    where = policy.describe_target(kind, target)  # type: ignore[arg-type]
    if override:
        check_override(tx.registry, reason)
        stage_now = model["versions"][version]["stage"]
        tx.record(model, "override", version, source=stage_now, target=stage_now, reason=reason.strip(),
                  details={kind: target, "missing": problems, "approvals": [r["id"] for r in counted]})
        return
    flag = "--env" if kind == "env" else "--stage"
    raise RefusedError(f"{label} cannot enter {where}: {'; '.join(problems)}",
                       hint=f"an approver runs `mreg approve {label} {flag} {target}`; "
                            f"`mreg approvals {label}` lists them")


def check_override(registry: Repo, reason: str) -> None:
    """An override needs a reason and an admin; checked before anything is stored or moved."""
    if not (reason or "").strip():
        raise UsageError(f"{spelled('override')} needs {spelled('reason')}: it is recorded with the override")
    admins = registry.config.policy.admins
    if registry.user not in admins:
        raise RefusedError(f"{registry.user} is not an admin: only admins may override approvals",
                           hint="admins are listed in [policy] admins in .mreg/config.toml")
