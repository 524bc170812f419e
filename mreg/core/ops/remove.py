"""`rm`: take a version, or a whole model, out of the index. The bytes stay until `gc`."""

from __future__ import annotations

from mreg.core.names import parse_reference
from mreg.core.registry import Registry, Transaction
from mreg.core.semver import Version
from mreg.core.wording import name as spelled
from mreg.errors import RefusedError, UsageError


def drop_version(tx: Transaction, model: dict, version: str, action: str, reason: str) -> None:
    """Remove one version from a model's index, recording the event; its number is never reused."""
    record = model["versions"].pop(version)
    model["removed"].append(version)
    tx.record(model, action, version, source=record["stage"], target=None, reason=reason,
              details={"digest": record["digest"]})


def remove(registry: Registry, ref: str, *, all_versions: bool = False, force: bool = False, reason: str = "") -> list[str]:
    """Remove `NAME@SEL`, or every version of `NAME` with all_versions; return `NAME@VERSION`s removed.

    A version in an exclusive stage (production) is removed only with `force`.
    Confirmation of a whole-model removal is the caller's business.
    """
    reference = parse_reference(ref)
    if all_versions and reference.selector is not None:
        raise UsageError(f"{spelled('all_versions')} takes a model name, not a reference",
                         hint=f"give {reference.name} alone")
    if not all_versions and reference.selector is None:
        raise UsageError(f"{reference.name!r} names a whole model",
                         hint=f"remove one version with {reference.name}@VERSION, or all with {spelled('all_versions')}")
    exclusive = registry.lifecycle.exclusive
    with registry.transaction() as tx:
        if all_versions:
            model = tx.model(reference.name)
            targets = sorted(model["versions"], key=Version.parse)
        else:
            model, version = tx.lookup(ref)
            targets = [version]
        protected = [v for v in targets if model["versions"][v]["stage"] in exclusive]
        if protected and not force:
            stage = model["versions"][protected[0]]["stage"]
            raise RefusedError(f"{model['name']}@{protected[0]} is in {stage}", hint=f"pass {spelled('force')} to remove it anyway")
        for version in targets:
            drop_version(tx, model, version, "rm", reason)
    return [f"{model['name']}@{v}" for v in targets]
