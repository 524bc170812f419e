"""`register`: store an artifact and record it as the next version of a model."""

from __future__ import annotations

import os

from mreg.core import metadata as md
from mreg.core.artifact import store_artifact
from mreg.core.ops.lifecycle import enter_stage, promotion_steps
from mreg.core.repo import Repo, document
from mreg.core.semver import BUMPS, Version
from mreg.core.pins import Intake, recover_trash
from mreg.core.store import format_digest
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.errors import IntegrityError, NotFoundError, RefusedError, UsageError


def _hash_dataset(registry: Repo, path: str) -> tuple[str, int, str]:
    """Digest, size and kind of a local dataset, hashed for lineage (not stored)."""
    import hashlib

    from mreg.core.artifact import encode_manifest, scan_directory
    from mreg.core.copying import hash_fd
    from mreg.core.store import open_regular

    def hash_file(file_path: str, follow: bool, expect=None) -> tuple[str, int]:
        fd, _ = open_regular(file_path, follow=follow, expect=expect)
        try:
            return hash_fd(fd)
        finally:
            os.close(fd)

    if os.path.isdir(path):
        entries = []
        for source in scan_directory(path, follow_symlinks=True, skip=registry.root):
            hexdigest, size = hash_file(source.path, True, source.info)
            entries.append({"path": source.relpath, "digest": format_digest(hexdigest), "size": size,
                            "executable": bool(source.info.st_mode & 0o111)})
        manifest = encode_manifest(entries)
        return format_digest(hashlib.sha256(manifest).hexdigest()), sum(e["size"] for e in entries), "directory"
    hexdigest, size = hash_file(path, True)
    return format_digest(hexdigest), size, "file"


def build_metadata(registry: Repo, *, metrics=(), params=(), tags=(), datasets=(), description=None,
                   framework=None, metadata_file=None) -> dict:
    """Merge a metadata file and command-line options (options win) into version fields."""
    fields: dict = {"description": "", "framework": "", "metrics": {}, "params": {}, "tags": {}, "datasets": {}, "metadata": {}}
    if metadata_file:
        loaded = md.load_metadata_file(metadata_file)
        for key, value in loaded.items():
            if key in md.SECTIONS:
                if not isinstance(value, dict):
                    raise UsageError(f"metadata file {metadata_file}: {key} must be a table/object")
                fields[key] = dict(value)
            elif key in md.TEXT_FIELDS:
                if not isinstance(value, str):
                    raise UsageError(f"metadata file {metadata_file}: {key} must be text")
                fields[key] = value
            else:
                fields["metadata"][key] = value
        for key, value in fields["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"metadata file {metadata_file}: metric {key!r} must be a number, got {value!r}")
        for key, value in fields["tags"].items():
            if not isinstance(value, str):
                raise UsageError(f"metadata file {metadata_file}: tag {key!r} must be text, got {value!r}")
    for section, key, value in md.option_pairs(metrics, params, tags):
        fields[section][key] = value
    datasets_in = dict(fields["datasets"])
    # A dict from Python ({"train": "data/train.csv"}) or `K=V` strings from the command line.
    given = datasets.items() if isinstance(datasets, dict) else \
        [md.split_pair(item, "datasets") for item in md.key_value_items(datasets, "datasets")]
    for key, value in given:
        if isinstance(value, str) and not value:
            raise UsageError(f"dataset {key!r} needs a path or URI")
        datasets_in[key] = value
    fields["datasets"] = {}
    for key, spec in datasets_in.items():
        if isinstance(spec, str):
            check_text(spec, f"dataset {key}")
            fields["datasets"][key] = md.describe_dataset(spec, hasher=lambda p: _hash_dataset(registry, p))
        elif isinstance(spec, dict):
            fields["datasets"][key] = spec
        else:
            raise UsageError(f"dataset {key!r} must be a path, a URI or an object")
    if description is not None:
        fields["description"] = check_text(description, spelled("description"))
    if framework is not None:
        fields["framework"] = check_text(framework, spelled("framework"))
    checked = md.check_value(fields, "metadata")
    md.check_size(checked)
    return checked  # type: ignore[return-value]


def _next_version(model: dict, explicit: Version | None, bump: str) -> str:
    taken = {Version.parse(v) for v in model["versions"]} | {Version.parse(v) for v in model["removed"]}
    if explicit is not None:
        version = str(explicit)
        if version in model["versions"]:
            raise RefusedError(f"{model['name']}@{version} already exists",
                               hint=f"omit {spelled('version')} to take the next one, or give {spelled('bump')} instead")
        if version in model["removed"]:
            raise RefusedError(f"{model['name']}@{version} was removed; version numbers are never reused")
        return version
    if not taken:
        return "1.0.0"
    return str(max(taken).bump(bump))


def _check_sources(registry: Repo, derived_from) -> list[str]:
    """The `--from` references, each checked now (a bad or missing one refuses the register before
    a byte is stored), without repeats."""
    from mreg.core.names import parse_reference

    if isinstance(derived_from, str):
        derived_from = [derived_from]
    sources = list(dict.fromkeys(derived_from))
    for ref in sources:
        if not isinstance(ref, str):
            raise UsageError(f"{spelled('derived_from')} takes references such as NAME@VERSION, not {ref!r}")
        try:
            parse_reference(ref)
            registry.lookup(ref)
        except (NotFoundError, UsageError) as exc:
            kind = NotFoundError if isinstance(exc, NotFoundError) else UsageError
            raise kind(f"{spelled('derived_from')} {ref}: {exc.message}", hint=exc.hint) from None
    return sources


def _resolve_sources(tx, sources: list[str]) -> list[str]:
    """`NAME@VERSION` of each source, read under the lock, without repeats."""
    derived = []
    for ref in sources:
        model, version = tx.lookup(ref, explicit=False)
        derived.append(f"{model['name']}@{version}")
    return list(dict.fromkeys(derived))


def _refuse_unapproved(registry: Repo, name: str, steps: list[str], override: bool, reason: str) -> None:
    """A new version has no approvals: a protected stage on its way is refused before a byte is stored."""
    from mreg.core.ops.approvals import check_override

    if override:
        check_override(registry, reason)
        return
    policy = registry.config.policy
    protected = [step for step in steps if policy.rule(stage=step) is not None]
    if protected:
        raise RefusedError(
            f"{spelled('stage')} {steps[-1]}: {protected[0]} takes approvals, and a new version has none",
            hint=f"register it, have it approved (mreg approve {name}@VERSION --stage {protected[0]}), then promote it",
        )


def register(
    registry: Repo,
    name: str,
    path: str,
    *,
    version: str | None = None,
    bump: str | None = None,
    metrics=(),
    params=(),
    tags=(),
    datasets=(),
    description: str | None = None,
    framework: str | None = None,
    metadata_file: str | None = None,
    stage: str | None = None,
    derived_from=(),
    follow_symlinks: bool = False,
    reason: str = "",
    override: bool = False,
    progress=None,
    if_changed: bool = False,
) -> dict:
    """Store `path` as the next version of `name`; return its document.

    With `if_changed`, a version of `name` that already holds the same bytes
    (the same digest) is returned instead, and nothing is registered: it is
    looked for under the lock, so two such registers of the same bytes at
    once make one version. The document then says `created` (true or false).
    """
    from mreg.core.lineage import git_state
    from mreg.core.names import validate_name

    # Everything that can be refused is checked before a byte is stored.
    validate_name(name)
    check_text(reason, spelled("reason"))
    registry.user  # a user that is not valid text is refused now, not after the copy
    if bump is not None and version is not None:
        raise UsageError(f"{spelled('version')} and {spelled('bump')} do not go together: "
                         "give an exact version or a part to bump")
    bump = bump or "patch"
    if bump not in BUMPS:
        raise UsageError(f"invalid {spelled('bump')} {bump!r}: expected one of {', '.join(BUMPS)}")
    explicit = Version.parse(version) if version is not None else None
    lifecycle = registry.lifecycle
    steps: list[str] = []
    if stage is not None:
        lifecycle.check_stage(stage)
        if stage != lifecycle.initial:
            if stage not in lifecycle.promotion:
                raise RefusedError(
                    f"{spelled('stage')} {stage}: a new version can only be promoted along the promotion path "
                    f"({' → '.join(lifecycle.promotion)})",
                    hint="register it, then move it with `mreg transition NAME@VERSION STAGE`",
                )
            steps = promotion_steps(lifecycle, name, "(new)", lifecycle.initial, stage)
    sources = _check_sources(registry, derived_from)
    _refuse_unapproved(registry, name, steps, override, reason)
    if not os.path.lexists(path):
        raise RefusedError(f"no such file or directory: {path}")
    fields = build_metadata(registry, metrics=metrics, params=params, tags=tags, datasets=datasets,
                            description=description, framework=framework, metadata_file=metadata_file)
    lineage = {"user": registry.user, **git_state()}

    with Intake(registry.layout) as intake:
        stored = store_artifact(registry.store, path, intake, follow_symlinks=follow_symlinks, progress=progress)
        with registry.transaction() as tx:
            # Resolved again under the lock, before the new version exists: what
            # `NAME@latest` or `NAME@production` names now is what is recorded.
            derived = _resolve_sources(tx, sources)
            model = tx.model(name, create=True)
            if if_changed:
                same = [v for v, r in model["versions"].items() if r["digest"] == stored.digest]
                if same:
                    # The newest holder of these bytes; the transaction records nothing.
                    existing = max(same, key=Version.parse)
                    return {**document(name, model["versions"][existing]), "created": False}
            number = _next_version(model, explicit, bump)
            # The pins kept gc away from these objects; check they are all
            # there before anything refers to them.
            missing = [h for h in stored.objects if not registry.store.exists(h)]
            if missing:
                # Only a gc that died between moving objects to its trash and
                # putting pinned ones back can cause this; no gc runs while we
                # hold the lock, so its trash can safely be put back now.
                recover_trash(registry.layout, registry.store)
                missing = [h for h in missing if not registry.store.exists(h)]
            if missing:
                raise IntegrityError(f"object {missing[0][:12]} vanished while registering; register again")
            record = {
                "version": number,
                "stage": lifecycle.initial,
                "digest": stored.digest,
                "kind": stored.kind,
                "size": stored.size,
                "files": stored.files,
                "created_at": tx.now,
                "created_by": registry.user,
                "description": fields["description"],
                "framework": fields["framework"],
                "metrics": fields["metrics"],
                "params": fields["params"],
                "tags": fields["tags"],
                "datasets": fields["datasets"],
                "format": stored.facts.get("format"),
                "parameters": stored.facts.get("parameters"),
                "dtypes": stored.facts.get("dtypes", []),
                "filename": stored.filename,
                "lineage": lineage,
                "derived_from": derived,
                "metadata": fields["metadata"],
                "stage_changed_at": tx.now,
            }
            model["versions"][number] = record
            tx.record(model, "register", number, source=None, target=lifecycle.initial, reason=reason,
                      details={"digest": stored.digest, "size": stored.size, "kind": stored.kind,
                               # how the number was chosen: a pull renumbers a bumped one, never an explicit one
                               "bump": None if explicit is not None else bump,
                               # the whole record, as it enters the index: the history can rebuild it
                               "record": record})
            for step in steps:
                enter_stage(tx, model, number, step, "promote", reason or "registered with --stage",
                            override=override)
    doc = document(name, record)
    return {**doc, "created": True} if if_changed else doc
