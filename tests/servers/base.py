"""What the tests' local HTTP servers share: a quiet threading server on 127.0.0.1 with an
ephemeral port, start/stop (also as a context manager), and JSON-answering handler plumbing."""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up (a timeout test): nothing to report
        super().handle_error(request, client_address)


class JsonHandler(BaseHTTPRequestHandler):
    """Handler plumbing; subclasses set ``owner`` (the server object) and ``self.rec``."""

    owner: Any
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.rec.status = status
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """A dropped connection: no answer at all."""
        self.rec.status = -1
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _authorized(self) -> bool:
        key = self.owner.api_key
        if key is None:
            return True
        h = self.rec.headers
        if h.get("authorization") == f"Bearer {key}" or h.get("api-key") == key:
            return True
        self._json(401, {"error": {"message": "Incorrect API key provided", "code": 401}})
        return False


class LocalServer:
    """Lifecycle of a test server; subclasses set ``handler`` (a JsonHandler subclass)."""

    handler: type[JsonHandler]
    poll_interval = 0.5
    _httpd: QuietServer | None = None

    def start(self):
        handler = type("Handler", (self.handler,), {"owner": self})
        self._httpd = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(
            target=self._httpd.serve_forever, args=(self.poll_interval,), daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"
