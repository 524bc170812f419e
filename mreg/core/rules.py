"""Who must approve what: the `[policy]` and `[environments.ENV]` tables of config.toml, parsed and checked.

Checked strictly (an unknown key is an error, not ignored: a typo in
`approvals` must not leave production unprotected). Also the small readers
every table of config.toml uses, each error naming the key at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mreg.errors import IntegrityError, UsageError


def invalid(key: str, problem: str) -> IntegrityError:
    """The error for a bad value in config.toml, naming its key."""
    return IntegrityError(
        f"invalid config.toml: {key}: {problem}",
        hint="fix .mreg/config.toml (mreg init writes the defaults into a fresh registry)",
    )


def string_list(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(f"{where}.{key}", "missing or not a list of stage names")
    return tuple(value)


def as_table(value: object, key: str) -> dict:
    if not isinstance(value, dict):
        raise invalid(key, "not a table")
    return value


def unknown_keys(table: dict, known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            raise invalid(f"{where}.{key}", f"unknown key (expected one of {', '.join(known)})")


@dataclass(frozen=True)
class Rule:
    """What entering one protected stage or environment takes (`[policy.stages.STAGE]`, `[environments.ENV]`)."""

    approvals: int
    # Who may approve, as written (users and `group:NAME`), and expanded to users;
    # both empty: anyone may.
    approvers: tuple[str, ...]
    allowed: frozenset[str]
    self_approval: bool
    expire: str  # a duration such as "14d"; "" never expires
    rollback_requires_approval: bool

    def may_approve(self, user: str) -> bool:
        return not self.approvers or user in self.allowed


@dataclass(frozen=True)
class Environment:
    """`[environments.ENV]`: the stages a version must be in to receive traffic there, and the approvals it takes."""

    name: str
    stages: tuple[str, ...] | None = None  # None: any stage (but archived) may receive traffic
    rule: Rule | None = None

    def allows(self, stage: str) -> bool:
        return self.stages is None or stage in self.stages


@dataclass(frozen=True)
class Policy:
    """`[policy]`, `[policy.groups]`, `[policy.stages.STAGE]` and the rules of `[environments.ENV]`."""

    admins: frozenset[str] = frozenset()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    stages: dict[str, Rule] = field(default_factory=dict, hash=False)
    environments: dict[str, Environment] = field(default_factory=dict, hash=False)

    def rule(self, stage: str | None = None, env: str | None = None) -> Rule | None:
        """The rule for entering `stage` (or environment `env`), None when it needs no approvals."""
        if env is not None:
            found = self.environments.get(env)
            return found.rule if found is not None else None
        return self.stages.get(stage or "")


_RULE_KEYS = ("approvals", "approvers", "self_approval", "expire", "rollback_requires_approval")
_ENVIRONMENT_KEYS = ("stages", *_RULE_KEYS)
_POLICY_KEYS = ("admins", "groups", "stages")
_GROUP_PREFIX = "group:"


def _users(value: object, key: str, groups: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...], frozenset[str]]:
    """A list of users and `group:NAME` entries, as written and expanded to users."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise invalid(key, "not a list of users (and group:NAME entries)")
    users: set[str] = set()
    for item in value:
        if item.startswith(_GROUP_PREFIX):
            group = item[len(_GROUP_PREFIX):]
            if group not in groups:
                known = ", ".join(sorted(groups)) or "none in [policy.groups]"
                raise invalid(key, f"unknown group {group!r} (groups: {known})")
            users.update(groups[group])
        else:
            users.add(item)
    return tuple(value), frozenset(users)


def _rule(table: dict, where: str, groups: dict[str, tuple[str, ...]], required: bool) -> Rule | None:
    """The approval rule of a stage or environment table; None for an environment that asks none."""
    if "approvals" not in table:
        if required:
            raise invalid(f"{where}.approvals", "missing (how many approvals entering it takes)")
        extra = [key for key in _RULE_KEYS if key in table]
        if extra:
            raise invalid(f"{where}.{extra[0]}", "set without approvals (how many approvals entering it takes)")
        return None
    count = table["approvals"]
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise invalid(f"{where}.approvals", f"{str(count)[:40]} is not a count from 1 to 100")
    approvers, allowed = _users(table["approvers"], f"{where}.approvers", groups) if "approvers" in table \
        else ((), frozenset())
    if "approvers" in table and not approvers:
        raise invalid(f"{where}.approvers", "empty: nobody could approve (leave it out to let anyone approve)")
    if approvers and len(allowed) < count:
        raise invalid(f"{where}.approvers", f"{len(allowed)} approver(s) can never give {count} approvals")
    flags = {}
    for key in ("self_approval", "rollback_requires_approval"):
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise invalid(f"{where}.{key}", "must be true or false")
        flags[key] = value
    expire = table.get("expire", "")
    if not isinstance(expire, str):
        raise invalid(f"{where}.expire", "must be a duration string such as '14d' ('' never expires)")
    if expire:
        from mreg.core.timeparse import parse_duration

        try:
            if not parse_duration(expire):
                raise UsageError("a duration of 0 expires every approval at once")
        except UsageError as exc:
            raise invalid(f"{where}.expire", exc.message) from None
    return Rule(count, approvers, allowed, flags["self_approval"], expire, flags["rollback_requires_approval"])


def parse_policy(data: dict, stages: tuple[str, ...], initial: str) -> Policy:
    """Validate `[policy]` and `[environments]`; every problem names the key at fault."""
    policy = as_table(data.get("policy", {}), "policy")
    unknown_keys(policy, _POLICY_KEYS, "policy")
    groups: dict[str, tuple[str, ...]] = {}
    for group, members in as_table(policy.get("groups", {}), "policy.groups").items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m.strip() for m in members):
            raise invalid(f"policy.groups.{group}", "not a list of users")
        if any(m.startswith(_GROUP_PREFIX) for m in members):
            raise invalid(f"policy.groups.{group}", "a group lists users, not other groups")
        groups[group] = tuple(members)
    admins = _users(policy["admins"], "policy.admins", groups)[1] if "admins" in policy else frozenset()
    rules: dict[str, Rule] = {}
    for stage, table in as_table(policy.get("stages", {}), "policy.stages").items():
        where = f"policy.stages.{stage}"
        if stage not in stages:
            raise invalid(where, f"unknown stage (stages are {', '.join(stages)})")
        if stage == initial:
            raise invalid(where, "the initial stage cannot take approvals: every new version starts there")
        table = as_table(table, where)
        unknown_keys(table, _RULE_KEYS, where)
        rules[stage] = _rule(table, where, groups, required=True)  # type: ignore[assignment]
    environments: dict[str, Environment] = {}
    for env, table in as_table(data.get("environments", {}), "environments").items():
        where = f"environments.{env}"
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", env, re.ASCII):
            raise invalid(where, "not an environment name (a lower-case letter, then letters, digits, _ or -)")
        table = as_table(table, where)
        unknown_keys(table, _ENVIRONMENT_KEYS, where)
        allowed_stages = None
        if "stages" in table:
            allowed_stages = string_list(table, "stages", where)
            for stage in allowed_stages:
                if stage not in stages:
                    raise invalid(f"{where}.stages", f"unknown stage {stage!r}")
        rule = _rule(table, where, groups, required=False)
        if rule is not None and rule.rollback_requires_approval:
            raise invalid(f"{where}.rollback_requires_approval", "applies to stages only ([policy.stages.STAGE])")
        environments[env] = Environment(env, allowed_stages, rule)
    return Policy(admins, groups, rules, environments)
