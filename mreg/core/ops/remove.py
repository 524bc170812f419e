"""`rm`: take a version, or a whole model, out of the index. The bytes stay until `gc`."""

from __future__ import annotations

from mreg.core.holds import holds
from mreg.core.names import parse_reference
from mreg.core.ops.alias import drop_aliases
from mreg.core.ops.deploy import undeploy_everywhere
from mreg.core.repo import Repo, Transaction
from mreg.core.semver import Version
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.errors import RefusedError, UsageError


def drop_version(tx: Transaction, model: dict, version: str, action: str, reason: str,
                 extra: dict | None = None) -> None:
    """Remove one version from a model's index, recording the event; its number is never reused.

    `extra` adds to the event's details (gc records the retention rule that removed it)."""
    record = model["versions"].pop(version)
    model["removed"].append(version)
    tx.record(model, action, version, source=record["stage"], target=None, reason=reason,
              details={"digest": record["digest"], "record": record, **(extra or {})})


def _refuse_protected(registry: Repo, model: dict, targets: list[str], force: bool) -> None:
    """A version in an exclusive stage (production) is removed only with `force`."""
    protected = [v for v in targets if model["versions"][v]["stage"] in registry.lifecycle.exclusive]
    if protected and not force:
        stage = model["versions"][protected[0]]["stage"]
        raise RefusedError(f"{model['name']}@{protected[0]} is in {stage}", hint=f"pass {spelled('force')} to remove it anyway")


def _refuse_held(model: dict, targets: list[str], force: bool) -> None:
    """A version something holds (traffic, an alias, ...) is removed only with `force`, which releases it first."""
    for version in targets:
        reasons = holds(model, version)
        if reasons and not force:
            raise RefusedError(f"{model['name']}@{version} is held: {', '.join(reasons)}",
                               hint=f"pass {spelled('force')} to release it (recorded) and remove the version anyway")


def _release(tx: Transaction, model: dict, version: str, reason: str) -> None:
    """Take `version` out of every environment and drop its aliases, each recorded, for a forced removal:
    no split or alias ever names a removed version. Approvals pending for it go with it."""
    undeploy_everywhere(tx, model, version, reason)
    drop_aliases(tx, model, version)


def remove(registry: Repo, ref: str, *, all_versions: bool = False, force: bool = False, reason: str = "",
           dry_run: bool = False) -> list[str]:
    """Remove `NAME@SEL`, or every version of `NAME` with all_versions; return `NAME@VERSION`s removed.

    A version in an exclusive stage (production), or one that something holds
    (it receives traffic, an alias points at it), is removed only with
    `force`, which first takes it out of every environment (each recorded as
    an `undeploy`) and drops its aliases (each recorded as an `alias` event).
    Confirmation of a whole-model removal is the caller's business: `dry_run`
    says what would go, refused as the removal would be, so that it is
    refused before anyone is asked.
    """
    reference = parse_reference(ref)
    check_text(reason, spelled("reason"))
    if all_versions and reference.selector is not None:
        raise UsageError(f"{spelled('all_versions')} takes a model name, not a reference",
                         hint=f"give {reference.name} alone, without @{reference.selector}")
    if not all_versions and reference.selector is None:
        raise UsageError(f"{reference.name!r} names a whole model",
                         hint=f"remove one version with {reference.name}@VERSION, or all with {spelled('all_versions')}")
    if dry_run:
        model = registry.model(reference.name)
        targets = (sorted(model["versions"], key=Version.parse) if all_versions
                   else [registry.resolve(model, reference.selector)])
        _refuse_protected(registry, model, targets, force)
        _refuse_held(model, targets, force)
        return [f"{model['name']}@{v}" for v in targets]
    with registry.transaction() as tx:
        if all_versions:
            model = tx.model(reference.name)
            targets = sorted(model["versions"], key=Version.parse)
        else:
            model, version = tx.lookup(ref)
            targets = [version]
        _refuse_protected(registry, model, targets, force)
        _refuse_held(model, targets, force)
        for version in targets:
            _release(tx, model, version, reason or "removed")
            drop_version(tx, model, version, "rm", reason)
    return [f"{model['name']}@{v}" for v in targets]
