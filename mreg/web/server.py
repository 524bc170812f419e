"""`mreg ui`: the site's pages served read-only from the live registry, each rendered when asked for.

The standard library's threading HTTP server, on the loopback interface
unless the caller names another. It answers GET and HEAD with the pages the
static site would hold (and compare pages for any two versions); nothing is
read from a path the browser names, so no path can reach outside the pages.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from mreg.errors import MregError, StorageError, UsageError

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handler(open_registry: Callable[[], object]) -> type[BaseHTTPRequestHandler]:
    from mreg.web.pages import CONTENT_TYPES, route
    from mreg.web.parts import CSP
    from mreg.web.reading import Snapshot

    class Handler(BaseHTTPRequestHandler):
        server_version = "mreg-ui"
        sys_version = ""

        def _answer(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            if path.endswith("/") and path != "/":
                path += "_index.html" if path.startswith("/models/") else "index.html"
            path = path.lstrip("/")
            try:
                render = route(Snapshot(open_registry()), path)
                data = render() if render is not None else None
            except MregError as error:  # a damaged index: say so in the page, as the command line would
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"mreg: error: {error.message}\n".encode(),
                           "text/plain; charset=utf-8", body)
                return
            if data is None:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", body)
                return
            suffix = path[path.rfind("."):] if "." in path else ".html"
            self._send(HTTPStatus.OK, data, CONTENT_TYPES.get(suffix, CONTENT_TYPES[".html"]), body)

        def _send(self, status: HTTPStatus, data: bytes, kind: str, body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", CSP + "; frame-ancestors 'none'")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self._answer(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

        def _refuse(self) -> None:
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # read only

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
            pass  # the terminal shows the address, not every request

    return Handler


def make_server(open_registry: Callable[[], object], *, host: str | None = None,
                port: int | None = None) -> ThreadingHTTPServer:
    """A server bound and ready (port 0 or None: a free one); `host` defaults to 127.0.0.1.

    Any address that is not loopback must be asked for: `host` given explicitly.
    """
    address = LOOPBACK if host is None else host
    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET

    try:
        return Server((address, port or 0), _handler(open_registry))
    except OSError as error:
        raise StorageError(f"cannot listen on {address}:{port or 0}: {error.strerror or error}",
                           hint="choose another --port, or leave it out for a free one") from None
