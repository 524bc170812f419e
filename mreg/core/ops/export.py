"""export: a model's split in one environment as a serving system reads it (json, kserve, sagemaker).

Each version's location is its stored object: the file itself for a
single-file artifact, the manifest for a directory; on the default remote
(its URL) when the registry has one, else the local path.
"""

from __future__ import annotations

from mreg.core.ops.deploy import deployments
from mreg.core.repo import Repo
from mreg.core.semver import Version
from mreg.errors import NotFoundError, RefusedError, UsageError

FORMATS = ("json", "kserve", "sagemaker")


def _location(registry: Repo, hexdigest: str) -> str:
    """Where a serving system finds an object: its URL on the default remote (shared by the team), else its
    path in this registry's store."""
    from mreg.core.ops.remotes import default_remote

    remotes = registry.config.remotes
    name = default_remote(remotes)
    if name is None:
        return registry.store.path(hexdigest)
    from mreg.core.remote.format import object_key

    return f"{remotes[name]['url'].rstrip('/')}/{object_key(hexdigest)}"


def export(registry: Repo, name: str, env: str, format: str, *, at: str | None = None) -> dict | list:
    """`env`'s split of model `name` as `format` (json, kserve or sagemaker) describes it.

    Each version's location is its stored object: the file itself for a
    single-file artifact, the manifest for a directory; on the default remote
    (its URL) when the registry has one, else the local path.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}: choose json, kserve or sagemaker")
    found = deployments(registry, name, env=env, at=at)
    if not found:
        raise RefusedError(f"{name} receives no traffic in {env}" + (f" at {at}" if at else ""),
                           hint=f"mreg deploy {name}@VERSION --env {env}")
    document = found[0]
    records = _records(registry, name, document["traffic"])
    versions = []
    for version, share in document["traffic"].items():
        record = records[version]
        versions.append({"version": version, "traffic": share, "stage": record["stage"],
                         "digest": record["digest"], "kind": record["kind"],
                         "location": _location(registry, record["digest"].split(":", 1)[1]),
                         "framework": record.get("framework")})
    if format == "json":
        return {**document, "versions": versions}
    if format == "kserve":
        return _kserve(name, env, versions)
    return _sagemaker(name, env, versions)


def _records(registry: Repo, name: str, wanted) -> dict[str, dict]:
    """The record of each wanted version: as the index holds it, or (removed since a past split)
    as its register event recorded it."""
    from mreg.core import index as index_mod

    model = index_mod.load_model(registry.layout, name)
    records = {v: model["versions"][v] for v in wanted if v in model["versions"]}
    if len(records) < len(wanted):
        from mreg.core.history import read_events

        meta = model["history"]
        for event in read_events(registry.layout.history_path(name), meta["events"], meta["head"], name):
            if event["action"] == "register" and event["version"] in wanted and event["version"] not in records:
                records[event["version"]] = event["details"]["record"]
    missing = [v for v in wanted if v not in records]
    if missing:
        raise NotFoundError(f"{name}@{missing[0]}: its history does not record it, so it has no location")
    return records


def _label(text: str, prefix: str = "") -> str:
    """`text` as a name Kubernetes and SageMaker accept: a-z, 0-9 and single dashes, 63 at most."""
    import re

    label = re.sub(r"[^a-z0-9]+", "-", (prefix + text).lower()).strip("-")
    if not label[:1].isalpha():
        label = "m-" + label
    return label[:63].rstrip("-")


def _kserve(name: str, env: str, versions: list[dict]) -> dict:
    """A KServe InferenceService: one version, or two with the newer as the canary."""
    if len(versions) > 2:
        raise RefusedError(
            f"KServe cannot express this split: {name} has {len(versions)} versions in {env}, and an "
            "InferenceService splits between two revisions only (the latest as canary, the previous)",
            hint="use --format sagemaker or --format json, or undeploy a version")
    ordered = sorted(versions, key=lambda v: Version.parse(v["version"]))
    canary = ordered[-1]
    predictor: dict = {"model": {"storageUri": canary["location"]}}
    if canary.get("framework"):
        predictor["model"]["modelFormat"] = {"name": canary["framework"]}
    annotations = {"mreg.model": name, "mreg.env": env, "mreg.version": canary["version"]}
    if len(ordered) == 2:
        stable = ordered[0]
        predictor["canaryTrafficPercent"] = canary["traffic"]
        annotations.update({"mreg.stable-version": stable["version"], "mreg.stable-storage-uri": stable["location"]})
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": _label(name), "annotations": annotations},
        "spec": {"predictor": predictor},
    }


def _sagemaker(name: str, env: str, versions: list[dict]) -> dict:
    """A SageMaker endpoint configuration: one production variant per version, weighted by its share."""
    if len(versions) > 10:
        raise RefusedError(f"SageMaker cannot express this split: {len(versions)} versions in {env}, "
                           "and an endpoint holds at most 10 production variants")
    variants, models, seen = [], [], set()
    for entry in sorted(versions, key=lambda v: Version.parse(v["version"]), reverse=True):
        variant = _label(entry["version"], "v")
        if variant in seen:
            raise RefusedError(f"SageMaker cannot express this split: two versions are both named {variant} "
                               "there (SageMaker names allow only letters, digits and dashes)")
        seen.add(variant)
        model_name = _label(f"{name}-{entry['version']}")
        variants.append({"VariantName": variant, "ModelName": model_name,
                         "InitialVariantWeight": float(entry["traffic"])})
        models.append({"ModelName": model_name, "PrimaryContainer": {"ModelDataUrl": entry["location"]}})
    return {"EndpointConfigName": _label(f"{name}-{env}"), "ProductionVariants": variants, "Models": models}
