"""Retention: the `[[retention]]` rules of config.toml, and the versions they remove.

    [[retention]]
    stages = ["deprecated", "archived"]   # required: the stages the rule looks at
    keep_last = 3                         # per model and stage, the highest versions kept
    older_than = "30d"                    # time in the stage (since stage_changed_at)
    models = "team/*"                     # a glob over model names (default: every model)

A version matches a rule when it is in one of the rule's stages, its model's
name matches the glob, and every condition the rule gives holds: it is not
among the `keep_last` highest versions of its model in that stage, and it has
been in the stage longer than `older_than`. A rule must give at least one of
the two, so no rule can mean "every version in these stages". Rules are read
in order; a version is removed by the first it matches, unless something
protects it (`protection`): gc applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mreg.errors import IntegrityError, UsageError

RULE_KEYS = ("stages", "keep_last", "older_than", "models")


@dataclass(frozen=True)
class RetentionRule:
    """One `[[retention]]` table, validated; `number` is its place in config.toml, from 1."""

    number: int
    stages: tuple[str, ...]
    keep_last: int | None = None
    older_than: str | None = None
    older_than_seconds: float | None = None
    models: str = "*"

    def document(self) -> dict:
        """The rule as gc's report and its events record it."""
        doc: dict = {"rule": self.number, "stages": list(self.stages)}
        if self.keep_last is not None:
            doc["keep_last"] = self.keep_last
        if self.older_than is not None:
            doc["older_than"] = self.older_than
        doc["models"] = self.models
        return doc

    def describe(self) -> str:
        parts = [f"stages {', '.join(self.stages)}"]
        if self.keep_last is not None:
            parts.append(f"keep_last {self.keep_last}")
        if self.older_than is not None:
            parts.append(f"older_than {self.older_than}")
        if self.models != "*":
            parts.append(f"models {self.models}")
        return f"retention rule {self.number} ({'; '.join(parts)})"


def _fail(key: str, problem: str) -> IntegrityError:
    return IntegrityError(
        f"invalid config.toml: {key}: {problem}",
        hint="fix the [[retention]] tables of .mreg/config.toml; a rule needs stages and keep_last or older_than",
    )


def parse_rules(value: object, stages: tuple[str, ...]) -> tuple[RetentionRule, ...]:
    """Validate the `[[retention]]` array of tables against the lifecycle's `stages`; each problem
    names the rule (`retention[N]`, from 1) and its key."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail("retention", "not an array of tables: write each rule under its own [[retention]]")
    return tuple(_parse_rule(table, number, stages) for number, table in enumerate(value, start=1))


def _parse_rule(table: object, number: int, known: tuple[str, ...]) -> RetentionRule:
    where = f"retention[{number}]"
    if not isinstance(table, dict):
        raise _fail(where, "not a table")
    for key in table:
        if key not in RULE_KEYS:
            raise _fail(f"{where}.{str(key)[:40]}", f"unknown key (a rule has {', '.join(RULE_KEYS)})")
    stages = table.get("stages")
    if stages is None:
        raise _fail(f"{where}.stages", "missing: a rule names the stages it removes versions from")
    if not isinstance(stages, list) or not all(isinstance(stage, str) for stage in stages):
        raise _fail(f"{where}.stages", "not a list of stage names")
    if not stages:
        raise _fail(f"{where}.stages", "empty: a rule names the stages it removes versions from")
    for stage in stages:
        if stage not in known:
            raise _fail(f"{where}.stages", f"unknown stage {stage[:40]!r}: stages are {', '.join(known)}")
    keep_last = table.get("keep_last")
    if keep_last is not None and (not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 0):
        raise _fail(f"{where}.keep_last", f"{str(keep_last)[:40]} is not a whole number, 0 or more")
    older_than = table.get("older_than")
    seconds = None
    if older_than is not None:
        from mreg.core.timeparse import parse_duration

        if not isinstance(older_than, str):
            raise _fail(f"{where}.older_than", "must be a duration string such as '30d'")
        try:
            seconds = parse_duration(older_than)
        except UsageError as exc:
            raise _fail(f"{where}.older_than", exc.message) from None
    if keep_last is None and older_than is None:
        raise _fail(where, "gives neither keep_last nor older_than: it would remove every version in its stages")
    models = table.get("models", "*")
    if not isinstance(models, str) or not models:
        raise _fail(f"{where}.models", "must be a glob of model names such as 'team/*'")
    return RetentionRule(number, tuple(dict.fromkeys(stages)), keep_last, older_than, seconds, models)


@dataclass(frozen=True)
class Removal:
    """A version a rule removes, and why in words."""

    name: str
    version: str
    stage: str
    rule: RetentionRule
    why: str


def matching(rules: tuple[RetentionRule, ...], model: dict, now: float) -> list[Removal]:
    """The versions of `model` (an index document) that a rule matches, the first matching rule
    naming each, lowest version first. Protection is the caller's business (`protection`)."""
    from fnmatch import fnmatchcase

    from mreg.core.semver import Version
    from mreg.core.timeparse import parse_time

    name, versions = model["name"], model["versions"]
    found: dict[str, Removal] = {}
    for rule in rules:
        if not fnmatchcase(name, rule.models):
            continue
        for stage in rule.stages:
            held = sorted((v for v, r in versions.items() if r["stage"] == stage), key=Version.parse, reverse=True)
            for place, version in enumerate(held):
                if version in found:
                    continue
                reasons = []
                if rule.keep_last is not None:
                    if place < rule.keep_last:
                        continue
                    reasons.append(f"not among the last {rule.keep_last} in {stage}" if rule.keep_last
                                   else f"in {stage}, where keep_last is 0")
                if rule.older_than_seconds is not None:
                    record = versions[version]
                    since = parse_time(record.get("stage_changed_at") or record["created_at"]).timestamp()
                    if now - since <= rule.older_than_seconds:
                        continue
                    reasons.append(f"in {stage} for longer than {rule.older_than}")
                found[version] = Removal(name, version, stage, rule, " and ".join(reasons))
    return [found[v] for v in sorted(found, key=Version.parse)]


def protection(model: dict, version: str, exclusive: frozenset[str]) -> list[str]:
    """Why no rule may remove `version`: an exclusive stage, the newest version, or a hold."""
    from mreg.core.holds import holds
    from mreg.core.semver import Version

    reasons = []
    stage = model["versions"][version]["stage"]
    if stage in exclusive:
        reasons.append(f"in {stage}, an exclusive stage")
    if version == max(model["versions"], key=Version.parse):
        reasons.append("the newest version of its model")
    return reasons + holds(model, version)
