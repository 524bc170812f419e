"""Artifacts: a single file or a whole directory, into and out of the object store.

A directory becomes a *manifest* — a JSON document listing each file's
relative path, digest, size and executable bit — stored as an object itself;
the version's digest is the manifest's digest.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from mreg.core import facts as facts_mod
from mreg.core import notices
from mreg.core.pins import Intake
from mreg.core.store import ObjectStore, format_digest, open_regular, parse_digest
from mreg.core.text import check_text
from mreg.core.wording import name as spelled
from mreg.errors import IntegrityError, RefusedError, UsageError

MANIFEST_FORMAT = 1
# Up to this many files, each object is fsynced on its own; above it, one
# syncfs covers the batch (thousands of fsyncs would dominate the register).
_FSYNC_EACH_MAX = 16

Progress = Callable[[int], None]


@dataclass
class SourceFile:
    relpath: str  # '/'-separated, relative to the artifact root
    path: str  # where to read it
    info: os.stat_result  # what the scan saw, to detect a swap before the copy
    follow: bool  # reached through a symbolic link


@dataclass
class Stored:
    """What an artifact became in the store."""

    digest: str  # sha256:<hex> of the file, or of the manifest
    kind: str  # "file" or "directory"
    size: int  # bytes of content (files only, not the manifest)
    files: int
    filename: str
    facts: dict
    objects: list[str]  # every hex digest the version references


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan_directory(root: str, *, follow_symlinks: bool, skip: str | None = None) -> list[SourceFile]:
    """List the files of a directory artifact, enforcing the rules on links and special files (README, Registering).

    `skip` names a folder left out wherever it appears (by identity, not by
    name): the registry's own `.mreg/`, which a project folder holds and
    which changes while it is being read (intake, lock), as git leaves out `.git/`.
    """
    real_root = os.path.realpath(root)
    found: list[SourceFile] = []
    offenders: list[str] = []
    skipped: list[str] = []
    try:
        skip_key = (os.stat(skip).st_dev, os.stat(skip).st_ino) if skip else None
    except OSError:
        skip_key = None

    def walk(directory: str, rel: str, ancestors: frozenset) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except PermissionError:
            offenders.append(f"{rel or '.'} (permission denied)")
            return
        for entry in entries:
            relpath = f"{rel}/{entry.name}" if rel else entry.name
            try:
                relpath.encode("utf-8")
            except UnicodeEncodeError:
                offenders.append(f"{relpath!r} (name is not valid UTF-8)")
                continue
            info = entry.stat(follow_symlinks=False)
            via_link = stat.S_ISLNK(info.st_mode)
            if via_link:
                target = os.path.realpath(entry.path)
                try:
                    info = os.stat(entry.path)
                except OSError:
                    offenders.append(f"{relpath} -> {os.readlink(entry.path)} (dangling link)")
                    continue
                if not _inside(target, real_root) and not follow_symlinks:
                    offenders.append(f"{relpath} -> {os.readlink(entry.path)} (points outside the directory)")
                    continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key == skip_key:
                    skipped.append(relpath)
                    continue
                if key in ancestors:
                    offenders.append(f"{relpath} (symbolic link loop)")
                    continue
                walk(entry.path, relpath, ancestors | {key})
            elif stat.S_ISREG(info.st_mode):
                found.append(SourceFile(relpath, entry.path, info, via_link))
            else:
                kind = (
                    "FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "socket" if stat.S_ISSOCK(info.st_mode)
                    else "device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "special file"
                )
                offenders.append(f"{relpath} ({kind})")

    top = os.stat(root)
    walk(root, "", frozenset({(top.st_dev, top.st_ino)}))
    if offenders:
        shown = "; ".join(offenders[:20]) + (f"; and {len(offenders) - 20} more" if len(offenders) > 20 else "")
        raise UsageError(
            f"cannot store {root}: {len(offenders)} entr{'y is' if len(offenders) == 1 else 'ies are'} "
            f"not regular files or links inside it: {shown}",
            hint=f"{spelled('follow_symlinks')} stores the bytes that links point to (FIFOs, sockets and devices are never stored)",
        )
    if not found:
        raise UsageError(f"cannot store {root}: the directory holds no files")
    for relpath in skipped:
        notices.warn(f"left out {relpath}/: it is the registry itself")
    return found


def _store_one(store: ObjectStore, source: SourceFile | str, intake: Intake, durable: bool, progress,
               staged: list | None = None) -> tuple[str, int, bool]:
    if isinstance(source, SourceFile):
        fd, info = open_regular(source.path, follow=source.follow, expect=source.info)
    else:
        fd, info = open_regular(source, follow=True)
    try:
        # The bar moves as the bytes are hashed, not once the file is staged.
        hexdigest, size, temp = store.stage_file(fd, info.st_size, intake, progress)
    finally:
        os.close(fd)
    if staged is not None:
        staged.append((hexdigest, temp))  # installed by the caller once the whole batch is synced
    else:
        store.install(hexdigest, temp, intake, durable=durable)
    return hexdigest, size, bool(info.st_mode & 0o111)


def store_artifact(
    store: ObjectStore, path: str, intake: Intake, *, follow_symlinks: bool = False, progress: Progress | None = None
) -> Stored:
    """Copy a file or directory into the store, returning its digest and facts."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise RefusedError(f"no such file or directory: {path}") from None
    filename = os.path.basename(os.path.normpath(os.path.abspath(path)))
    # The name is recorded (and is `get`'s default destination): it must be text.
    check_text(filename, f"the name of {path}", hint="rename it with a UTF-8 name, then register it")
    if filename_fault(filename):
        # A name `get` would refuse as its default destination: it falls back to the model's name.
        filename = ""
    registry_root = os.path.realpath(store.layout.root)
    if _inside(os.path.realpath(path), registry_root):
        raise UsageError(f"cannot store {path}: it is inside the registry ({store.layout.root})")
    if stat.S_ISREG(info.st_mode):
        hexdigest, size, _ = _store_one(store, path, intake, True, progress)
        facts = facts_mod.file_facts(store.path(hexdigest), filename)
        return Stored(format_digest(hexdigest), "file", size, 1, filename, facts, [hexdigest])
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"cannot store {path}: not a regular file or directory")
    sources = scan_directory(path, follow_symlinks=follow_symlinks, skip=registry_root)
    durable = len(sources) <= _FSYNC_EACH_MAX
    entries = []
    total = 0
    staged: list | None = None if durable else []
    for source in sources:
        hexdigest, size, executable = _store_one(store, source, intake, durable, progress, staged)
        entries.append({"path": source.relpath, "digest": format_digest(hexdigest), "size": size, "executable": executable})
        total += size
    if staged is not None:
        # One syncfs makes every staged copy durable *before* any is renamed into
        # the store (an object must never exist under its name with bytes a power
        # cut could lose: a later register of the same bytes would trust it);
        # a second one makes the renames durable before anything refers to them.
        store.flush()
        for hexdigest, temp in staged:
            store.install(hexdigest, temp, intake, durable=False)
        store.flush()
    manifest = encode_manifest(entries)
    manifest_hex = store.put_bytes(manifest, intake)
    objects = [parse_digest(e["digest"]) for e in entries] + [manifest_hex]
    facts = facts_mod.directory_facts([(e["path"], store.path(parse_digest(e["digest"]))) for e in entries])
    return Stored(format_digest(manifest_hex), "directory", total, len(entries), filename, facts, objects)


def encode_manifest(entries: list[dict]) -> bytes:
    """The canonical bytes of a manifest: sorted, compact, so equal trees get equal digests."""
    ordered = sorted(entries, key=lambda e: e["path"])
    return json.dumps({"format": MANIFEST_FORMAT, "files": ordered}, sort_keys=True, separators=(",", ":")).encode()


def filename_fault(name: object) -> str | None:
    """What makes a recorded file name unfit as a default destination (None when it is fine).

    `get` without `-o` writes to this name in the current folder, so it must
    be one plain name there: never a path, `.`/`..`, empty, or control characters.
    """
    if not isinstance(name, str) or not name:
        return "is empty or not text"
    if name in (".", ".."):
        return f"is {name!r}"
    if "/" in name:
        return f"{name[:80]!r} is a path, not a plain name"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return f"{name[:80]!r} holds control characters"
    return None


def load_manifest(store: ObjectStore, hexdigest: str) -> list[dict]:
    """Read, verify and validate a manifest: every path relative and inside, no duplicates."""
    from mreg.core.schema import manifest_fault

    data = store.read_verified(hexdigest)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        document = None
    fault = manifest_fault(document, MANIFEST_FORMAT) if document is not None else "not valid JSON"
    if fault:
        raise IntegrityError(f"manifest {hexdigest[:12]} ({store.path(hexdigest)}) is not a valid manifest: {fault}")
    return document["files"]


def referenced_objects(store: ObjectStore, digest: str, kind: str) -> list[str]:
    """Every object hex digest a version references (the manifest and its files, or the file)."""
    hexdigest = parse_digest(digest)
    if kind != "directory":
        return [hexdigest]
    return [hexdigest] + [parse_digest(e["digest"]) for e in load_manifest(store, hexdigest)]


def _write_file(store: ObjectStore, hexdigest: str, target: str, executable: bool, progress) -> None:
    # O_EXCL|O_NOFOLLOW: we only ever create fresh regular files inside our own
    # new temporary folder, never follow or replace anything already there.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if executable else 0o644)
    try:
        store.copy_verified(hexdigest, fd, progress)
    finally:
        os.close(fd)


def materialize(store: ObjectStore, digest: str, kind: str, destination: str, progress: Progress | None = None) -> None:
    """Write an artifact to `destination` (which must not exist), verifying every byte.

    The work happens in a temporary sibling that is renamed into place at the
    end, so a corrupt object or an interruption leaves nothing at `destination`.
    """
    import shutil
    import uuid

    parent = os.path.dirname(os.path.abspath(destination))
    temp = os.path.join(parent, f".mreg-get-{uuid.uuid4().hex[:12]}")
    hexdigest = parse_digest(digest)
    try:
        if kind == "directory":
            files = load_manifest(store, hexdigest)
            os.mkdir(temp, 0o755)
            for entry in files:
                target = os.path.join(temp, *entry["path"].split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                _write_file(store, parse_digest(entry["digest"]), target, bool(entry.get("executable")), progress)
        else:
            _write_file(store, hexdigest, temp, False, progress)
        os.rename(temp, destination)
    except BaseException:
        if os.path.isdir(temp):
            shutil.rmtree(temp, ignore_errors=True)
        elif os.path.lexists(temp):
            os.unlink(temp)
        raise
