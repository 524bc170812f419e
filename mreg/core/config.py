"""`.mreg/config.toml`: the format version, the lifecycle table, defaults and the approval policy.

The lifecycle is data: users change which moves are allowed by editing the
`[lifecycle]` table, and every command reads it from here. So is the policy:
`[policy]` (admins, groups, the stages that take approvals) and
`[environments.ENV]`, checked as strictly (an unknown key is an error, not
ignored: a typo in `approvals` must not leave production unprotected).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from mreg.core.fsutil import read_regular_file
from mreg.errors import IntegrityError, UsageError

FORMAT_VERSION = 1

DEFAULT_STAGES = ("development", "testing", "staging", "production", "deprecated", "archived")
DEFAULT_TRANSITIONS: dict[str, list[str]] = {
    "development": ["testing", "archived"],
    "testing": ["development", "staging", "archived"],
    "staging": ["testing", "production", "archived"],
    "production": ["staging", "deprecated"],
    "deprecated": ["archived"],
    "archived": [],
}
DEFAULT_PROMOTION = ("development", "testing", "staging", "production")
DEFAULT_EXCLUSIVE = ("production",)
# Where a version superseded in an exclusive stage, or rolled back from it, goes.
DEFAULT_RETIRED = "deprecated"
DEFAULT_ARCHIVED = "archived"
RESERVED_SELECTORS = ("latest",)

_HEADER = """\
# mreg registry configuration.
# [lifecycle.transitions] lists, for each stage, the stages a version may move to.
# Edit it to change the rules; `mreg verify` checks that it still makes sense.
"""


def default_config() -> dict:
    """The configuration `mreg init` writes."""
    return {
        "format": FORMAT_VERSION,
        "lifecycle": {
            "stages": list(DEFAULT_STAGES),
            "initial": DEFAULT_PROMOTION[0],
            "promotion": list(DEFAULT_PROMOTION),
            "exclusive": list(DEFAULT_EXCLUSIVE),
            "retired": DEFAULT_RETIRED,
            "archived": DEFAULT_ARCHIVED,
            "transitions": {stage: list(targets) for stage, targets in DEFAULT_TRANSITIONS.items()},
        },
        "gc": {"grace": "24h", "archived_older_than": ""},
    }


def render_config(config: dict) -> bytes:
    import tomli_w

    return (_HEADER + tomli_w.dumps(config)).encode()


@dataclass(frozen=True)
class Lifecycle:
    """The stages and the moves allowed between them."""

    stages: tuple[str, ...]
    initial: str
    promotion: tuple[str, ...]
    exclusive: frozenset[str]
    retired: str
    archived: str
    transitions: dict[str, tuple[str, ...]] = field(hash=False)

    @property
    def release(self) -> str:
        """The last stage of the promotion path (production), the one rollback restores."""
        return self.promotion[-1]

    def allowed(self, source: str, target: str) -> bool:
        return target in self.transitions.get(source, ())

    def check_stage(self, stage: str) -> str:
        if stage not in self.stages:
            raise UsageError(f"unknown stage {stage!r}: stages are {', '.join(self.stages)}")
        return stage


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


@dataclass(frozen=True)
class Config:
    lifecycle: Lifecycle
    gc_grace: str
    gc_archived_older_than: str
    # The `[[retention]]` rules gc applies (mreg/core/retention.py), in the order written.
    retention: tuple = ()
    policy: Policy = field(default_factory=Policy, hash=False)

    @property
    def environments(self) -> dict[str, Environment]:
        return self.policy.environments

    def environment(self, name: str) -> Environment:
        """The rules of environment `name` (an environment without a table has none)."""
        return self.environments.get(name) or Environment(name)
    # [remotes.NAME]: {"url": …, "options": {K: V}, "single_writer": bool, "lazy": bool}, in the order added
    remotes: dict = field(default_factory=dict, hash=False, compare=False)


def _fail(key: str, problem: str) -> IntegrityError:
    return IntegrityError(
        f"invalid config.toml: {key}: {problem}",
        hint="fix .mreg/config.toml (mreg init writes the defaults into a fresh registry)",
    )


def _string_list(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(f"{where}.{key}", "missing or not a list of stage names")
    return tuple(value)


def parse_lifecycle(table: object) -> Lifecycle:
    """Validate the `[lifecycle]` table; every problem names the key at fault."""
    if not isinstance(table, dict):
        raise _fail("lifecycle", "missing table")
    stages = _string_list(table, "stages", "lifecycle")
    if not stages:
        raise _fail("lifecycle.stages", "no stages")
    if len(set(stages)) != len(stages):
        raise _fail("lifecycle.stages", "a stage is listed twice")
    for stage in stages:
        if stage in RESERVED_SELECTORS or not stage.isidentifier() or stage != stage.lower():
            raise _fail("lifecycle.stages", f"{stage!r} is not a valid stage name (lower-case word, not 'latest')")
    known = set(stages)

    def stage_key(key: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or value not in known:
            raise _fail(f"lifecycle.{key}", f"{value!r} is not one of the stages")
        return value

    promotion = _string_list(table, "promotion", "lifecycle")
    if len(promotion) < 1:
        raise _fail("lifecycle.promotion", "empty promotion path")
    for stage in promotion:
        if stage not in known:
            raise _fail("lifecycle.promotion", f"unknown stage {stage!r}")
    if len(set(promotion)) != len(promotion):
        raise _fail("lifecycle.promotion", "cycle: a stage appears twice in the promotion path")
    exclusive = _string_list(table, "exclusive", "lifecycle") if "exclusive" in table else ()
    for stage in exclusive:
        if stage not in known:
            raise _fail("lifecycle.exclusive", f"unknown stage {stage!r}")
    transitions_table = table.get("transitions")
    if not isinstance(transitions_table, dict):
        raise _fail("lifecycle.transitions", "missing table")
    transitions: dict[str, tuple[str, ...]] = {}
    for source, targets in transitions_table.items():
        if source not in known:
            raise _fail(f"lifecycle.transitions.{source}", "unknown stage")
        targets = _string_list(transitions_table, source, "lifecycle.transitions")
        for target in targets:
            if target not in known:
                raise _fail(f"lifecycle.transitions.{source}", f"unknown stage {target!r}")
        transitions[source] = targets
    lifecycle = Lifecycle(
        stages=stages,
        initial=stage_key("initial", promotion[0]),
        promotion=promotion,
        exclusive=frozenset(exclusive),
        retired=stage_key("retired", DEFAULT_RETIRED if DEFAULT_RETIRED in known else stages[-1]),
        archived=stage_key("archived", DEFAULT_ARCHIVED if DEFAULT_ARCHIVED in known else stages[-1]),
        transitions=transitions,
    )
    _check_consistent(lifecycle)
    return lifecycle


def _check_consistent(lifecycle: Lifecycle) -> None:
    """Refuse the stage roles that would break what the commands promise, each naming its key.

    An exclusive stage has at most one holder only because every way into it
    supersedes the holder; a new version (initial), a superseded one (retired)
    and an archived one enter their stages without that step.
    """
    for key in ("initial", "retired", "archived"):
        stage = getattr(lifecycle, key)
        if stage in lifecycle.exclusive:
            raise _fail(f"lifecycle.{key}", f"{stage!r} is an exclusive stage (lifecycle.exclusive): versions "
                        "entering it there would not replace its holder, and it would have two")
    if lifecycle.retired == lifecycle.release:
        raise _fail("lifecycle.retired", f"{lifecycle.retired!r} is the release stage: a superseded or "
                    "rolled-back version would stay in it")
    if lifecycle.archived in lifecycle.promotion:
        raise _fail("lifecycle.archived", f"{lifecycle.archived!r} is on the promotion path: gc deletes "
                    "archived versions, and would delete versions on their way to release")


_RULE_KEYS = ("approvals", "approvers", "self_approval", "expire", "rollback_requires_approval")
_ENVIRONMENT_KEYS = ("stages", *_RULE_KEYS)
_POLICY_KEYS = ("admins", "groups", "stages")
_GROUP_PREFIX = "group:"


def _table(value: object, key: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(key, "not a table")
    return value


def _unknown_keys(table: dict, known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            raise _fail(f"{where}.{key}", f"unknown key (expected one of {', '.join(known)})")


def _users(value: object, key: str, groups: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...], frozenset[str]]:
    """A list of users and `group:NAME` entries, as written and expanded to users."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _fail(key, "not a list of users (and group:NAME entries)")
    users: set[str] = set()
    for item in value:
        if item.startswith(_GROUP_PREFIX):
            group = item[len(_GROUP_PREFIX):]
            if group not in groups:
                known = ", ".join(sorted(groups)) or "none in [policy.groups]"
                raise _fail(key, f"unknown group {group!r} (groups: {known})")
            users.update(groups[group])
        else:
            users.add(item)
    return tuple(value), frozenset(users)


def _rule(table: dict, where: str, groups: dict[str, tuple[str, ...]], required: bool) -> Rule | None:
    """The approval rule of a stage or environment table; None for an environment that asks none."""
    if "approvals" not in table:
        if required:
            raise _fail(f"{where}.approvals", "missing (how many approvals entering it takes)")
        extra = [key for key in _RULE_KEYS if key in table]
        if extra:
            raise _fail(f"{where}.{extra[0]}", "set without approvals (how many approvals entering it takes)")
        return None
    count = table["approvals"]
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise _fail(f"{where}.approvals", f"{str(count)[:40]} is not a count from 1 to 100")
    approvers, allowed = _users(table["approvers"], f"{where}.approvers", groups) if "approvers" in table \
        else ((), frozenset())
    if "approvers" in table and not approvers:
        raise _fail(f"{where}.approvers", "empty: nobody could approve (leave it out to let anyone approve)")
    if approvers and len(allowed) < count:
        raise _fail(f"{where}.approvers", f"{len(allowed)} approver(s) can never give {count} approvals")
    flags = {}
    for key in ("self_approval", "rollback_requires_approval"):
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise _fail(f"{where}.{key}", "must be true or false")
        flags[key] = value
    expire = table.get("expire", "")
    if not isinstance(expire, str):
        raise _fail(f"{where}.expire", "must be a duration string such as '14d' ('' never expires)")
    if expire:
        from mreg.core.timeparse import parse_duration

        try:
            if not parse_duration(expire):
                raise UsageError("a duration of 0 expires every approval at once")
        except UsageError as exc:
            raise _fail(f"{where}.expire", exc.message) from None
    return Rule(count, approvers, allowed, flags["self_approval"], expire, flags["rollback_requires_approval"])


def parse_policy(data: dict, lifecycle: Lifecycle) -> Policy:
    """Validate `[policy]` and `[environments]`; every problem names the key at fault."""
    policy = _table(data.get("policy", {}), "policy")
    _unknown_keys(policy, _POLICY_KEYS, "policy")
    groups: dict[str, tuple[str, ...]] = {}
    for group, members in _table(policy.get("groups", {}), "policy.groups").items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m.strip() for m in members):
            raise _fail(f"policy.groups.{group}", "not a list of users")
        if any(m.startswith(_GROUP_PREFIX) for m in members):
            raise _fail(f"policy.groups.{group}", "a group lists users, not other groups")
        groups[group] = tuple(members)
    admins = _users(policy["admins"], "policy.admins", groups)[1] if "admins" in policy else frozenset()
    stages: dict[str, Rule] = {}
    for stage, table in _table(policy.get("stages", {}), "policy.stages").items():
        where = f"policy.stages.{stage}"
        if stage not in lifecycle.stages:
            raise _fail(where, f"unknown stage (stages are {', '.join(lifecycle.stages)})")
        if stage == lifecycle.initial:
            raise _fail(where, "the initial stage cannot take approvals: every new version starts there")
        table = _table(table, where)
        _unknown_keys(table, _RULE_KEYS, where)
        stages[stage] = _rule(table, where, groups, required=True)  # type: ignore[assignment]
    environments: dict[str, Environment] = {}
    for env, table in _table(data.get("environments", {}), "environments").items():
        where = f"environments.{env}"
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", env, re.ASCII):
            raise _fail(where, "not an environment name (a lower-case letter, then letters, digits, _ or -)")
        table = _table(table, where)
        _unknown_keys(table, _ENVIRONMENT_KEYS, where)
        allowed_stages = None
        if "stages" in table:
            allowed_stages = _string_list(table, "stages", where)
            for stage in allowed_stages:
                if stage not in lifecycle.stages:
                    raise _fail(f"{where}.stages", f"unknown stage {stage!r}")
        rule = _rule(table, where, groups, required=False)
        if rule is not None and rule.rollback_requires_approval:
            raise _fail(f"{where}.rollback_requires_approval", "applies to stages only ([policy.stages.STAGE])")
        environments[env] = Environment(env, allowed_stages, rule)
    return Policy(admins, groups, stages, environments)


def load_config(path: str) -> Config:
    """Read and validate config.toml; a damaged or future file is an integrity error."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(read_regular_file(path, "config.toml").decode())
    except FileNotFoundError:
        raise IntegrityError(
            f"{path} is missing", hint="run `mreg init` in the project folder to recreate the default config"
        ) from None
    except IntegrityError as exc:
        raise IntegrityError(exc.message, hint="move it away and run `mreg init` to write the default config") from None
    except (ValueError, RecursionError) as exc:
        # TOMLDecodeError and UnicodeDecodeError are ValueErrors, as is an
        # integer longer than Python converts; RecursionError is an array
        # nested thousands deep. Each is a damaged file, not a crash.
        detail = str(exc)[:200] if not isinstance(exc, RecursionError) else "nested too deeply"
        raise IntegrityError(
            f"config.toml is damaged: {detail}",
            hint="restore .mreg/config.toml from a backup, or move it away and run `mreg init` to write the defaults",
        ) from None
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail("format", "missing format version")
    if version > FORMAT_VERSION:
        raise IntegrityError(
            f"this registry has format {str(version)[:20]}, newer than this mreg understands ({FORMAT_VERSION})",
            hint="upgrade mreg: pip install -U mreg",
        )
    gc = data.get("gc", {})
    if not isinstance(gc, dict):
        raise _fail("gc", "not a table")
    grace = gc.get("grace", "24h")
    archived = gc.get("archived_older_than", "")
    for key, value in (("grace", grace), ("archived_older_than", archived)):
        if not isinstance(value, str):
            raise _fail(f"gc.{key}", "must be a duration string such as '24h' or '30d'")
        if value or key == "grace":
            from mreg.core.timeparse import parse_duration

            try:
                parse_duration(value)
            except UsageError as exc:
                raise _fail(f"gc.{key}", exc.message) from None
    lifecycle = parse_lifecycle(data.get("lifecycle"))
    retention = ()
    if "retention" in data:
        from mreg.core.retention import parse_rules

        retention = parse_rules(data["retention"], lifecycle.stages)
    return Config(lifecycle, grace, archived, retention, parse_policy(data, lifecycle),
                  parse_remotes(data.get("remotes", {})))


_REMOTE_KEYS = {"url": str, "options": dict, "single_writer": bool, "lazy": bool}


def parse_remotes(table: object) -> dict:
    """Validate the `[remotes]` table (what `mreg remote add` and `mreg clone` write)."""
    if not isinstance(table, dict):
        raise _fail("remotes", "not a table")
    remotes = {}
    for name, remote in table.items():
        if not isinstance(remote, dict):
            raise _fail(f"remotes.{name}", "not a table")
        for key, value in remote.items():
            if key not in _REMOTE_KEYS:
                raise _fail(f"remotes.{name}.{key}", "unknown key")
            if not isinstance(value, _REMOTE_KEYS[key]):
                raise _fail(f"remotes.{name}.{key}", f"not {_REMOTE_KEYS[key].__name__}")
        if not remote.get("url"):
            raise _fail(f"remotes.{name}.url", "missing")
        options = remote.get("options", {})
        if not all(isinstance(v, str) for v in options.values()):
            raise _fail(f"remotes.{name}.options", "every option must be text")
        remotes[name] = {"url": remote["url"], "options": dict(options),
                         "single_writer": remote.get("single_writer", False), "lazy": remote.get("lazy", False)}
    return remotes


def read_document(path: str) -> dict:
    """config.toml as a plain dict, for a command that changes it (after `load_config` has checked it)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib.loads(read_regular_file(path, "config.toml").decode())
