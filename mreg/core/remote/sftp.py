"""A remote on an SSH server (`sftp://USER@HOST[:PORT]/PATH`), through paramiko.

Exclusive create: the bytes go to a temporary name beside the key, then an
SFTP (version 3) rename moves them under the key. OpenSSH's server renames by
hard-linking the new name and unlinking the old one, so the rename fails when
the key exists (no clobbering) and a reader sees either no key or the whole
file, never part of it. (On a filesystem without hard links OpenSSH falls back
to checking then renaming, which is not atomic: keep a remote with several
writers on an ordinary POSIX filesystem.)

Host keys are checked against `~/.ssh/known_hosts`, or the file given by
`--option known_hosts=FILE`; an unknown host is refused (add it with
`ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`). Other options:
`key_filename` (a private key; otherwise the SSH agent and `~/.ssh/id_*`),
`password`, `port`, `timeout` (seconds to connect).
"""

from __future__ import annotations

import errno
import getpass
import posixpath
import secrets
import socket
import stat
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from mreg.core.remote.backends import CHUNK, TEMPORARY, check_key, check_prefix, need, take_options
from mreg.core.remote.storage import Leftover, Progress
from mreg.errors import IntegrityError, MregError, NotFoundError, StorageError, UsageError

OPTIONS = ("key_filename", "password", "port", "known_hosts", "timeout")
PREFETCH = 64  # read requests in flight while downloading (32 KiB each)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class SftpStorage:
    """A remote's keys as files under one folder of an SSH server."""

    def __init__(self, url: str, options: dict[str, str]) -> None:
        self.url = url
        self._options = take_options(url, options, OPTIONS)
        parts = urlsplit(url)
        if parts.scheme != "sftp" or not parts.hostname or parts.query or parts.fragment:
            raise UsageError(f"not an SFTP URL: {url!r}", hint="expected sftp://USER@HOST[:PORT]/PATH")
        self.host = parts.hostname
        self.user = unquote(parts.username) if parts.username else getpass.getuser()
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"bad port in {url!r}") from None
        self.port = port or _int_option(self._options, "port", 22)
        self.timeout = _int_option(self._options, "timeout", 30)
        self.root = posixpath.normpath(unquote(parts.path) or "/")
        if self.root in ("/", "."):
            raise UsageError(f"no folder in {url!r}", hint="expected sftp://USER@HOST[:PORT]/PATH")
        self._paramiko = need("paramiko", "sftp")
        self._client = None
        self._sftp = None
        self._folders: set[str] = set()

    # --- plumbing ---------------------------------------------------------------
    def _where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def _connect(self):
        if self._sftp is not None:
            return self._sftp
        paramiko = self._paramiko
        client = paramiko.SSHClient()
        try:
            if "known_hosts" in self._options:
                client.load_host_keys(self._options["known_hosts"])
            else:
                client.load_system_host_keys()
        except OSError as exc:
            raise StorageError(f"cannot read the known hosts for {self.url}: {_one_line(exc)}") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.user,
                password=self._options.get("password"),
                key_filename=self._options.get("key_filename"),
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
            )
            self._sftp = client.open_sftp()
        except paramiko.AuthenticationException:
            client.close()
            raise StorageError(
                f"the SSH server refused the credentials of {self._where()}",
                hint="give a key with --option key_filename=… (or password=…), or load it in ssh-agent",
            ) from None
        except paramiko.BadHostKeyException:
            client.close()
            raise StorageError(
                f"the host key of {self.host}:{self.port} does not match known_hosts: refusing to connect"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "known_hosts" in str(exc):
                raise StorageError(
                    f"unknown host key for {self.host}:{self.port}",
                    hint=f"check it, then: ssh-keyscan -p {self.port} {self.host} >> ~/.ssh/known_hosts"
                    " (or --option known_hosts=FILE)",
                ) from None
            raise StorageError(f"SSH failed with {self._where()}: {_one_line(exc)}") from None
        except (OSError, EOFError) as exc:
            client.close()
            raise StorageError(f"cannot reach {self._where()}: {_one_line(exc) or type(exc).__name__}") from None
        self._client = client
        return self._sftp

    def close(self) -> None:
        """Close the SSH connection (a later call opens a new one)."""
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self.root}/{key}"

    def _error(self, exc: Exception, doing: str) -> MregError:
        if isinstance(exc, MregError):
            return exc
        if isinstance(exc, (EOFError, ConnectionError, socket.timeout, self._paramiko.SSHException)):
            self.close()  # the connection is gone; the next call reconnects
            return StorageError(f"lost the connection to {self._where()} while {doing}: {_one_line(exc) or 'closed'}")
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
            return StorageError(f"permission denied on {self._where()} while {doing}")
        return StorageError(f"SFTP failed while {doing} on {self._where()}: {_one_line(exc) or type(exc).__name__}")

    def _stat(self, path: str):
        try:
            return self._connect().stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if getattr(exc, "errno", None) == errno.ENOENT:
                return None
            raise

    def _make_folders(self, folder: str) -> None:
        """Create `folder` and its parents under the root, as `mkdir -p` would."""
        if folder in self._folders:
            return
        sftp = self._connect()
        missing = []
        current = folder
        while current not in self._folders and self._stat(current) is None:
            missing.append(current)
            parent = posixpath.dirname(current)
            if parent == current:
                break
            current = parent
        for path in reversed(missing):
            try:
                sftp.mkdir(path)
            except OSError:
                # Another writer may have made it meanwhile; only its absence is an error.
                if self._stat(path) is None:
                    raise
        self._folders.add(folder)

    def _place(self, key: str, write) -> bool:
        """Write through `write(temporary path)`, then rename onto `key` unless it exists."""
        final = self._path(key)
        folder = posixpath.dirname(final)
        self._make_folders(folder)
        sftp = self._connect()
        temporary = f"{folder}/{TEMPORARY}-{secrets.token_hex(8)}"
        try:
            write(temporary)
            try:
                # SFTP v3 rename, not posix-rename@openssh.com: it refuses an existing target.
                sftp.rename(temporary, final)
                return True
            except OSError:
                if self._stat(final) is not None:
                    return False
                raise
        finally:
            try:
                sftp.remove(temporary)
            except OSError:
                pass

    # --- the Storage interface ---------------------------------------------------
    def create(self, key: str, data: bytes) -> bool:
        def write(temporary: str) -> None:
            with self._connect().open(temporary, "wxb") as f:
                f.write(data)

        try:
            return self._place(key, write)
        except Exception as exc:
            raise self._error(exc, f"creating {key}") from None

    def put_file(self, key: str, path: str, progress: Progress | None = None) -> bool:
        moved = 0

        def step(done: int, _total: int) -> None:
            nonlocal moved
            if progress is not None and done > moved:
                progress(done - moved)
            moved = max(moved, done)

        def write(temporary: str) -> None:
            with open(path, "rb") as local:
                self._connect().putfo(local, temporary, callback=step, confirm=True)

        try:
            # A key already there is the common case when pushing: answer it
            # before uploading (the rename below stays the real decision).
            if self._stat(self._path(key)) is not None:
                return False
            return self._place(key, write)
        except Exception as exc:
            raise self._error(exc, f"uploading {key}") from None

    def read(self, key: str, limit: int) -> bytes | None:
        path = self._path(key)
        try:
            try:
                f = self._connect().open(path, "rb")
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
                    return None
                raise
            with f:
                if f.stat().st_size > limit:
                    raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
                data = f.read(limit + 1)
            if len(data) > limit:
                raise IntegrityError(f"{self.url}: {key} is larger than {limit} bytes")
            return data
        except Exception as exc:
            raise self._error(exc, f"reading {key}") from None

    def get_file(self, key: str, path: str, progress: Progress | None = None) -> None:
        remote = self._path(key)
        try:
            sftp = self._connect()
            try:
                f = sftp.open(remote, "rb")
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
                    raise NotFoundError(f"{self.url}: no {key}") from None
                raise
            with f, open(path, "wb") as local:
                size = f.stat().st_size
                # Bounded read-ahead: paramiko's default prefetch asks for the
                # whole file at once and can hold much of it in memory.
                f.prefetch(size, max_concurrent_requests=PREFETCH)
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    local.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
        except Exception as exc:
            raise self._error(exc, f"downloading {key}") from None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            found = self._stat(self._path(key))
        except Exception as exc:
            raise self._error(exc, f"reading {key}") from None
        if found is None or not stat.S_ISREG(found.st_mode or 0):
            return None
        return int(found.st_size)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        check_prefix(prefix)
        pending = [prefix.rstrip("/")]
        while pending:
            relative = pending.pop()
            folder = f"{self.root}/{relative}" if relative else self.root
            try:
                entries = self._connect().listdir_attr(folder)
            except Exception as exc:
                if getattr(exc, "errno", None) == errno.ENOENT or isinstance(exc, FileNotFoundError):
                    continue
                raise self._error(exc, f"listing {relative or '/'}") from None
            for entry in sorted(entries, key=lambda e: e.filename):
                name = entry.filename
                if name in (".", "..") or name.startswith(TEMPORARY):
                    continue
                key = f"{relative}/{name}" if relative else name
                mode = entry.st_mode or 0
                # Entries carry lstat's answer: links are neither followed nor listed.
                if stat.S_ISDIR(mode):
                    pending.append(key)
                elif stat.S_ISREG(mode):
                    yield key, int(entry.st_size or 0)

    def delete(self, key: str) -> None:
        self._remove(self._path(key), key)

    def leftovers(self) -> Iterator[Leftover]:
        """The temporary files (`.mreg-tmp-…`, beside their keys) of uploads killed before the rename."""
        pending = [self.root]
        while pending:
            folder = pending.pop()
            try:
                entries = self._connect().listdir_attr(folder)
            except Exception as exc:
                if getattr(exc, "errno", None) == errno.ENOENT or isinstance(exc, FileNotFoundError):
                    continue
                raise self._error(exc, "listing temporary files") from None
            for entry in entries:
                mode = entry.st_mode or 0
                path = f"{folder}/{entry.filename}"
                if entry.filename in (".", ".."):
                    continue
                if stat.S_ISDIR(mode):
                    pending.append(path)
                elif entry.filename.startswith(TEMPORARY) and stat.S_ISREG(mode):
                    yield Leftover(path[len(self.root) + 1 :], int(entry.st_size or 0), float(entry.st_mtime or 0), path)

    def remove_leftover(self, leftover: Leftover) -> None:
        self._remove(leftover.handle, leftover.name)

    def _remove(self, path: str, name: str) -> None:
        """Remove the file at `path` (`name` in errors); no error if it is already gone."""
        try:
            self._connect().remove(path)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
                return
            raise self._error(exc, f"deleting {name}") from None
        except Exception as exc:
            raise self._error(exc, f"deleting {name}") from None


def _int_option(options: dict[str, str], name: str, default: int) -> int:
    if name not in options:
        return default
    try:
        value = int(options[name])
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(f"option {name}={options[name]!r}: expected a positive whole number")
    return value
