"""`.mreg/config.toml`: the format version, the lifecycle table, defaults, and the tables other modules parse.

The lifecycle is data: users change which moves are allowed by editing the
`[lifecycle]` table, and every command reads it from here. So is the policy
(`[policy]`, `[environments.ENV]`: mreg/core/rules.py) and the retention
rules (`[[retention]]`: mreg/core/retention.py), all read by `load_config`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from mreg.core.fsutil import read_regular_file
from mreg.core.rules import Environment, Policy, invalid, parse_policy, string_list
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


def parse_lifecycle(table: object) -> Lifecycle:
    """Validate the `[lifecycle]` table; every problem names the key at fault."""
    if not isinstance(table, dict):
        raise invalid("lifecycle", "missing table")
    stages = string_list(table, "stages", "lifecycle")
    if not stages:
        raise invalid("lifecycle.stages", "no stages")
    if len(set(stages)) != len(stages):
        raise invalid("lifecycle.stages", "a stage is listed twice")
    for stage in stages:
        if stage in RESERVED_SELECTORS or not stage.isidentifier() or stage != stage.lower():
            raise invalid("lifecycle.stages", f"{stage!r} is not a valid stage name (lower-case word, not 'latest')")
    known = set(stages)

    def stage_key(key: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or value not in known:
            raise invalid(f"lifecycle.{key}", f"{value!r} is not one of the stages")
        return value

    promotion = string_list(table, "promotion", "lifecycle")
    if len(promotion) < 1:
        raise invalid("lifecycle.promotion", "empty promotion path")
    for stage in promotion:
        if stage not in known:
            raise invalid("lifecycle.promotion", f"unknown stage {stage!r}")
    if len(set(promotion)) != len(promotion):
        raise invalid("lifecycle.promotion", "cycle: a stage appears twice in the promotion path")
    exclusive = string_list(table, "exclusive", "lifecycle") if "exclusive" in table else ()
    for stage in exclusive:
        if stage not in known:
            raise invalid("lifecycle.exclusive", f"unknown stage {stage!r}")
    transitions_table = table.get("transitions")
    if not isinstance(transitions_table, dict):
        raise invalid("lifecycle.transitions", "missing table")
    transitions: dict[str, tuple[str, ...]] = {}
    for source, targets in transitions_table.items():
        if source not in known:
            raise invalid(f"lifecycle.transitions.{source}", "unknown stage")
        targets = string_list(transitions_table, source, "lifecycle.transitions")
        for target in targets:
            if target not in known:
                raise invalid(f"lifecycle.transitions.{source}", f"unknown stage {target!r}")
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
            raise invalid(f"lifecycle.{key}", f"{stage!r} is an exclusive stage (lifecycle.exclusive): versions "
                        "entering it there would not replace its holder, and it would have two")
    if lifecycle.retired == lifecycle.release:
        raise invalid("lifecycle.retired", f"{lifecycle.retired!r} is the release stage: a superseded or "
                    "rolled-back version would stay in it")
    if lifecycle.archived in lifecycle.promotion:
        raise invalid("lifecycle.archived", f"{lifecycle.archived!r} is on the promotion path: gc deletes "
                    "archived versions, and would delete versions on their way to release")


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
        raise invalid("format", "missing format version")
    if version > FORMAT_VERSION:
        raise IntegrityError(
            f"this registry has format {str(version)[:20]}, newer than this mreg understands ({FORMAT_VERSION})",
            hint="upgrade mreg: pip install -U mreg",
        )
    gc = data.get("gc", {})
    if not isinstance(gc, dict):
        raise invalid("gc", "not a table")
    grace = gc.get("grace", "24h")
    archived = gc.get("archived_older_than", "")
    for key, value in (("grace", grace), ("archived_older_than", archived)):
        if not isinstance(value, str):
            raise invalid(f"gc.{key}", "must be a duration string such as '24h' or '30d'")
        if value or key == "grace":
            from mreg.core.timeparse import parse_duration

            try:
                parse_duration(value)
            except UsageError as exc:
                raise invalid(f"gc.{key}", exc.message) from None
    lifecycle = parse_lifecycle(data.get("lifecycle"))
    retention = ()
    if "retention" in data:
        from mreg.core.retention import parse_rules

        retention = parse_rules(data["retention"], lifecycle.stages)
    return Config(lifecycle, grace, archived, retention, parse_policy(data, lifecycle.stages, lifecycle.initial),
                  parse_remotes(data.get("remotes", {})))


_REMOTE_KEYS = {"url": str, "options": dict, "single_writer": bool, "lazy": bool}


def parse_remotes(table: object) -> dict:
    """Validate the `[remotes]` table (what `mreg remote add` and `mreg clone` write)."""
    if not isinstance(table, dict):
        raise invalid("remotes", "not a table")
    remotes = {}
    for name, remote in table.items():
        if not isinstance(remote, dict):
            raise invalid(f"remotes.{name}", "not a table")
        for key, value in remote.items():
            if key not in _REMOTE_KEYS:
                raise invalid(f"remotes.{name}.{key}", "unknown key")
            if not isinstance(value, _REMOTE_KEYS[key]):
                raise invalid(f"remotes.{name}.{key}", f"not {_REMOTE_KEYS[key].__name__}")
        if not remote.get("url"):
            raise invalid(f"remotes.{name}.url", "missing")
        options = remote.get("options", {})
        if not all(isinstance(v, str) for v in options.values()):
            raise invalid(f"remotes.{name}.options", "every option must be text")
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
