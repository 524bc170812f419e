"""What only the GCS backend needs checked: gcsfs's own logging stays off mreg's stderr.

The storage contract itself runs on GCS in test_storage.py (fake-gcs-server).
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mregtest import Mreg

pytest.importorskip("gcsfs", reason="the gcs extra is not installed (pip install 'mreg[gcs]')")


class Refusing(BaseHTTPRequestHandler):
    """Answers every request as GCS answers one it will not serve: `status` with an error document."""

    status, message = 400, "Bad Request"

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"error": {"code": self.status, "message": self.message, "errors": [{"message": self.message}]}})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args) -> None:
        pass


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refusing_endpoint():
    yield from serve(Refusing)


class Forbidding(Refusing):
    status, message = 403, "anonymous caller does not have storage.objects.get access"


@pytest.fixture
def forbidding_endpoint():
    yield from serve(Forbidding)


@pytest.mark.parametrize("server", ["refusing", "unreachable"])
def test_an_error_gcsfs_logs_is_still_one_line(tmp_path, refusing_endpoint, server):
    """gcsfs logs a request it gives up on with its traceback; the user sees only mreg's one line (exit 5)."""
    if server == "unreachable":
        if os.environ.get("MREG_FULL") != "1":
            pytest.skip("gcsfs retries a refused connection for about 35 s: MREG_FULL=1 runs it")
        from server_processes import free_ports

        endpoint, says = f"http://127.0.0.1:{free_ports(1)[0]}", "cannot reach GCS"
    else:
        endpoint, says = refusing_endpoint, "GCS failed"
    run = Mreg(tmp_path)
    options = ["--option", f"endpoint_url={endpoint}", "--option", "token=anon"]
    err = run("clone", "gs://bucket/registry", "copy", *options, expect=5).err
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"mreg: error: {says}") and "gs://bucket/registry" in lines[0], err
    assert len(lines) == 1, err
    assert not (tmp_path / "copy").exists()


def test_a_403_is_refused_credentials(tmp_path, forbidding_endpoint):
    """GCS's 403 (which gcsfs raises as a plain OSError) names the credentials, as on the other backends."""
    run = Mreg(tmp_path)
    options = ["--option", f"endpoint_url={forbidding_endpoint}", "--option", "token=anon"]
    err = run("clone", "gs://bucket/registry", "copy", *options, expect=5).err
    assert err.startswith("mreg: error: GCS refused the credentials for gs://bucket/registry"), err
    assert "token=" in err  # the hint
