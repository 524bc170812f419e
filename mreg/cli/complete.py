"""Completion callbacks: each TAB is a short process that reads the index and nothing else.

The shell runs `mreg` with `_MREG_COMPLETE` set; click parses the words typed
so far (without running any command) and calls these with the partly typed
word. The registry is the one the command would use: a `--repo` typed on the
line (after the command or before it), else `$MREG_REPO`, else the nearest
`.mreg/` upward from the current directory. Nothing here ever prints an error:
a TAB that cannot read the registry offers nothing.
"""

from __future__ import annotations


def _typed_repo(ctx) -> str | None:
    # Parsed options of the command and of `mreg` itself (innermost first).
    while ctx is not None:
        value = (getattr(ctx, "params", None) or {}).get("repo")
        if value:
            return value
        ctx = ctx.parent
    # A bash TAB hands over the line up to the cursor.
    from mreg.cli import bashline

    from mreg.cli import repo

    return repo.on_line(bashline.line().split())


def _layout(ctx):
    from mreg.cli import repo
    from mreg.core.layout import find_registry

    try:
        return find_registry(repo.chosen(_typed_repo(ctx)))
    except Exception:  # noqa: BLE001 - a TAB never prints an error
        return None


def model_names(ctx, incomplete: str) -> list[str]:
    layout = _layout(ctx)
    if layout is None:
        return []
    from mreg.core.index import iter_model_names
    from mreg.errors import MregError

    try:
        return [n for n in iter_model_names(layout) if n.startswith(incomplete)]
    except (OSError, MregError):  # a link planted as models/: offer nothing
        return []


def references(ctx, incomplete: str) -> list[str]:
    """`se` → model names; `sentiment@` → its versions (newest first), `latest`, the stages in use and its aliases."""
    if "@" not in incomplete:
        return model_names(ctx, incomplete)
    layout = _layout(ctx)
    if layout is None:
        return []
    from mreg.core.index import load_model
    from mreg.core.semver import Version

    name, _, partial = incomplete.partition("@")
    try:
        model = load_model(layout, name)
        versions = sorted(model["versions"], key=Version.parse, reverse=True) if model else []
    except Exception:  # noqa: BLE001 - a bad name or a damaged index: offer nothing
        return []
    stages: list[str] = []
    for version in versions:
        stage = model["versions"][version].get("stage")
        if isinstance(stage, str) and stage not in stages:
            stages.append(stage)
    aliases = _alias_names(model)
    options = versions + (["latest"] if versions else []) + stages + aliases
    return [f"{name}@{o}" for o in options if o.startswith(partial)]


def _alias_names(model: dict | None) -> list[str]:
    found = (model or {}).get("aliases")
    return sorted(a for a in found if isinstance(a, str)) if isinstance(found, dict) else []


def aliases(ctx, incomplete: str) -> list[str]:
    """The aliases of the model named before (`mreg alias sentiment <TAB>`), for --delete or a move."""
    typed = (getattr(ctx, "params", None) or {}).get("ref") if ctx is not None else None
    if not typed:
        from mreg.cli import bashline, repo

        words = repo.leading(bashline.split(bashline.line())[0])[1]
        rest = [w for w in words[1:] if not w.startswith("-")] if words[:1] == ["alias"] else []
        typed = rest[0] if rest else None
    layout = _layout(ctx)
    if not typed or layout is None:
        return []
    from mreg.core.index import load_model

    try:
        model = load_model(layout, typed.partition("@")[0])
    except Exception:  # noqa: BLE001 - a bad name or a damaged index: offer nothing
        return []
    return [a for a in _alias_names(model) if a.startswith(incomplete)]


def stages(ctx, incomplete: str) -> list[str]:
    """The stages of the registry's lifecycle (from its config.toml), else the default ones."""
    from mreg.core.config import DEFAULT_STAGES

    names = list(DEFAULT_STAGES)
    layout = _layout(ctx)
    if layout is not None:
        from mreg.core.config import load_config

        try:
            names = list(load_config(layout.config).lifecycle.stages)
        except Exception:  # noqa: BLE001
            pass
    return [s for s in names if s.startswith(incomplete)]


def sort_fields(ctx, incomplete: str) -> list[str]:
    """Every field a search can sort by: the fixed ones, and the metrics, params, tags and datasets in use."""
    from mreg.core.metadata import SECTIONS
    from mreg.core.query import SIMPLE_FIELDS

    fields = list(SIMPLE_FIELDS)
    layout = _layout(ctx)
    keys: set[str] = set()
    if layout is not None:
        from mreg.core.index import iter_model_names, load_model

        try:
            for name in iter_model_names(layout):
                model = load_model(layout, name) or {"versions": {}}
                for record in model["versions"].values():
                    for section in SECTIONS:
                        keys.update(f"{section}.{k}" for k in record.get(section) or {})
        except Exception:  # noqa: BLE001
            pass
    fields += sorted(keys)
    # With nothing in use yet, the section prefixes still show the way.
    fields += [f"{s}." for s in SECTIONS if not any(k.startswith(f"{s}.") for k in keys)]
    return [f for f in fields if f.startswith(incomplete)]


def if_missing(ctx, incomplete: str) -> list[str]:
    """What --if-missing takes."""
    return [word for word in ("fail", "pass") if word.startswith(incomplete)]
def environments(ctx, incomplete: str) -> list[str]:
    """The environments config.toml names and those where any model has traffic."""
    layout = _layout(ctx)
    if layout is None:
        return []
    names: set[str] = set()
    from mreg.core.config import load_config
    from mreg.core.index import iter_model_names, load_model

    try:
        names.update(load_config(layout.config).environments)
    except Exception:  # noqa: BLE001
        pass
    try:
        for name in iter_model_names(layout):
            model = load_model(layout, name) or {}
            names.update(model.get("deployments") or {})
    except Exception:  # noqa: BLE001 - a damaged index: offer what is known
        pass
    return sorted(n for n in names if n.startswith(incomplete))


def export_formats(ctx, incomplete: str) -> list[str]:
    """What `mreg deployments --format` exports to."""
    return [f for f in ("json", "kserve", "sagemaker") if f.startswith(incomplete)]
