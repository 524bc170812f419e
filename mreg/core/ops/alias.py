"""`alias`: named pointers to versions (`sentiment@champion`), set, moved and deleted.

A model's aliases live in its index document as `aliases` = {ALIAS: VERSION}
(absent when there are none). Every change is an `alias` event whose details
name the alias and the version it pointed at `before` and `after` (null:
none), which is what replay applies. A version that an alias points at is
held (mreg/core/holds.py): `rm` refuses it unless forced, and then drops the
aliases first, each drop recorded.
"""

from __future__ import annotations

from mreg.core.holds import aliases_of
from mreg.core.names import parse_reference, validate_alias, validate_name
from mreg.core.repo import Repo, Transaction, parse_version_reference
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.errors import NotFoundError, UsageError

# The reason recorded when `rm --force` drops the aliases of the version it removes.
REMOVED_WITH_VERSION = "removed with the version"


def _report(name: str, alias: str, version: str | None, previous: str | None) -> dict:
    return {"name": name, "alias": alias, "version": version, "previous": previous}


def move(tx: Transaction, model: dict, alias: str, after: str | None, reason: str) -> None:
    """Point `alias` at `after` (None deletes it), recording the `alias` event; the caller checked the change."""
    aliases = model.get("aliases") or {}
    before = aliases.get(alias)
    if after is None:
        aliases.pop(alias, None)
    else:
        aliases[alias] = after
    # Absent when empty: registries without aliases keep their documents as they were.
    if aliases:
        model["aliases"] = dict(sorted(aliases.items()))
    else:
        model.pop("aliases", None)
    tx.record(model, "alias", after or before, reason=reason,
              details={"alias": alias, "before": before, "after": after})


def drop_aliases(tx: Transaction, model: dict, version: str, reason: str = REMOVED_WITH_VERSION) -> list[str]:
    """Delete every alias pointing at `version` (each recorded); return their names."""
    dropped = aliases_of(model, version)
    for alias in dropped:
        move(tx, model, alias, None, reason)
    return dropped


def set_alias(registry: Repo, ref: str, alias: str, reason: str = "") -> dict:
    """Point `alias` at the version `ref` names, moving it if it pointed elsewhere.

    Returns `{name, alias, version, previous}`: `previous` is the version it
    pointed at before (null if it is new; equal to `version` when nothing
    moved, and then nothing is recorded).
    """
    check_text(reason, spelled("reason"))
    reference = parse_reference(ref)
    if reference.selector is None:
        raise UsageError(f"{reference.name!r} names a model, not a version",
                         hint=f"write {reference.name}@VERSION (or @STAGE, @latest, @ALIAS); "
                              f"to delete an alias: {spelled('delete')}")
    validate_alias(alias, registry.lifecycle.stages)
    with registry.transaction() as tx:
        model, version = tx.lookup(ref)
        previous = (model.get("aliases") or {}).get(alias)
        if previous != version:
            move(tx, model, alias, version, reason)
    return _report(model["name"], alias, version, previous)


def delete_alias(registry: Repo, name: str, alias: str, reason: str = "") -> dict:
    """Delete `alias` of model `name`; NotFoundError if it is not set. Returns `{name, alias, version: null, previous}`."""
    check_text(reason, spelled("reason"))
    if "@" in name:
        reference = parse_version_reference(name, explicit=False)
        raise UsageError("deleting an alias takes a model name, not a reference",
                         hint=f"give {reference.name} alone, without @{reference.selector}")
    validate_name(name)
    # Only the spelling: an alias that a stage added to the lifecycle later now shadows can still be deleted.
    validate_alias(alias)
    with registry.transaction() as tx:
        model = tx.model(name)
        previous = (model.get("aliases") or {}).get(alias)
        if previous is None:
            raise _no_alias(model, alias)
        move(tx, model, alias, None, reason)
    return _report(model["name"], alias, None, previous)


def list_aliases(registry: Repo, name: str) -> dict:
    """{ALIAS: VERSION} of model `name`, in alias order."""
    model = registry.model(name)
    return dict(sorted((model.get("aliases") or {}).items()))


def _no_alias(model: dict, alias: str) -> NotFoundError:
    aliases = sorted(model.get("aliases") or {})
    hint = f"its aliases: {', '.join(aliases)}" if aliases else f"{model['name']} has no aliases"
    return NotFoundError(f"{model['name']} has no alias {alias!r}", hint=hint)
