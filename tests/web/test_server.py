"""`mreg ui`: the pages served read-only on loopback, rendered from the registry as it is now."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.web.conftest import run


class Ui:
    """A running `mreg ui` (stopped with Ctrl-C by the test or at the end)."""

    def __init__(self, project: Path, env: dict, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mreg", "ui", *args], cwd=project, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://"), self.proc.stderr.read() if self.proc.poll() is not None else self.url
        host_port = self.url[len("http://"):].rstrip("/")
        self.host, _, port = host_port.rpartition(":")
        self.port = int(port)

    def request(self, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.putrequest(method, path, skip_accept_encoding=True)  # the path goes out exactly as written
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), body

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.interrupt()


@pytest.fixture
def ui(gallery, gallery_env):
    server = Ui(gallery, gallery_env)
    yield server
    server.stop()


def test_serves_the_site_pages_and_any_pair(ui):
    assert ui.host == "127.0.0.1"
    for path in ("/", "/index.html", "/static/site.css", "/models/sentiment/_index.html", "/models/sentiment/",
                 "/models/sentiment/_v/1.0.3.html", "/models/team/segmenter/_v/1.0.0.html",
                 "/models/sentiment/_data/1.0.0.js", "/models/sentiment/_compare.html?a=1.0.0&b=1.0.3"):
        status, headers, body = ui.request(path)
        assert status == 200, path
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    # the server compares any two versions, not only neighbours
    status, _, body = ui.request("/models/sentiment/_compare/1.0.0..1.0.3.html")
    assert status == 200 and b"Compare" in body and b"+0.09" in body
    status, headers, body = ui.request("/models/sentiment/_index.html", "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000


def test_only_reads(ui, gallery):
    before = sorted(p.stat().st_mtime_ns for p in (gallery / ".mreg" / "models").rglob("*"))
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = ui.request("/index.html", method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert sorted(p.stat().st_mtime_ns for p in (gallery / ".mreg" / "models").rglob("*")) == before


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/models/..%2f..%2f..%2fetc/passwd",
    "/models/sentiment/_v/../../../../.mreg/config.toml",
    "/models/../.mreg/models/sentiment/_index.json",
    "/.mreg/config.toml",
    "/models/sentiment/_v/..%2f..%2f..%2f.mreg%2fconfig.toml",
    "/static/site.css/../../pyproject.toml",
    "/models/%2e%2e/_index.html",
    "/models/sentiment/_compare/1.0.0..%2e%2e.html",
    "//etc/passwd",
    "/models/Sentiment/_index.html",
])
def test_no_path_reaches_outside_the_pages(ui, path):
    status, _, body = ui.request(path)
    assert status == 404, path
    assert b"root:" not in body and b"[lifecycle]" not in body and b"versions" not in body


def test_pages_follow_the_registry_without_a_restart(mreg, project):
    import os

    (project / "m.bin").write_bytes(b"one")
    mreg("register", "sentiment", "m.bin", "-q")
    server = Ui(project, dict(os.environ))
    try:
        assert server.request("/models/sentiment/_v/1.0.1.html")[0] == 404
        (project / "m.bin").write_bytes(b"two")
        mreg("register", "sentiment", "m.bin", "-q", "-d", "second")
        status, _, body = server.request("/models/sentiment/_v/1.0.1.html")
        assert status == 200 and b"second" in body
        code, err = server.interrupt()
        assert code == 130 and err.strip().endswith("mreg: error: interrupted") and "Traceback" not in err
    finally:
        server.stop()


def test_binds_loopback_unless_told(gallery, gallery_env):
    server = Ui(gallery, gallery_env, "--host", "0.0.0.0")
    try:
        assert server.host == "0.0.0.0"
        assert server.request("/")[0] == 200
    finally:
        code, err = server.interrupt()
    assert "warning: serving the registry to the network" in err


def test_json_names_the_address(gallery, gallery_env):
    import json

    proc = subprocess.Popen([sys.executable, "-m", "mreg", "ui", "--json"], cwd=gallery, env=gallery_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        document = json.loads("".join(lines))
        assert document["url"].startswith("http://127.0.0.1:") and document["registry"] == str(gallery / ".mreg")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 130


def test_a_taken_port_or_a_bad_one_is_an_error(ui, gallery, gallery_env):
    done = subprocess.run([sys.executable, "-m", "mreg", "ui", "--port", str(ui.port)], cwd=gallery, env=gallery_env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 5 and done.stderr.startswith("mreg: error: cannot listen on 127.0.0.1:")
    done = subprocess.run([sys.executable, "-m", "mreg", "ui", "--port", "70000"], cwd=gallery, env=gallery_env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--port" in done.stderr


def test_serves_a_remote_registry(mreg, project, tmp_path):
    import os

    (project / "m.bin").write_bytes(b"weights")
    mreg("register", "sentiment", "m.bin", "-q", "-d", "kept on the remote")
    remote = tmp_path / "team-remote"
    mreg("remote", "add", "origin", remote, "-q")
    mreg("push", "-q")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = Ui(elsewhere, dict(os.environ, MREG_CACHE_DIR=str(tmp_path / "cache")), "--repo", str(remote))
    try:
        status, _, body = server.request("/models/sentiment/_v/1.0.0.html")
        assert status == 200 and b"kept on the remote" in body
        assert server.request("/")[0] == 200
    finally:
        server.stop()
