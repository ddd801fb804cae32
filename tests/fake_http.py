"""What the loopback fakes of the Voucherify API share: a threaded HTTP server on a free port, faults scripted per
path, X-App-Id / X-App-Token auth and the API's error body {code, key, message, details, request_id}.

A fake subclasses LoopbackApi, declares `app_id`, `app_token` and a `faults` list, and implements
`_handle(handler, method)`; `with fake:` serves it at `fake.url` until the block ends.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    method: str
    path_prefix: str
    status: int = 503
    retry_after: str | None = None
    body: bytes | None = None  # a 200 with this body when status is 200 (malformed pages)
    delay: float = 0.0  # an answer this many seconds late
    skip: int = 0  # matching requests answered normally before this fault fires


class ApiError(Exception):
    """Raised by a fake's routes: answered as the API's error body with this status."""

    def __init__(self, status: int, key: str, message: str, details: str):
        super().__init__(message)
        self.status, self.key, self.message, self.details = status, key, message, details


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up mid-answer (killed or stopped on purpose) is not news


class LoopbackApi:
    app_id: str
    app_token: str
    faults: list[Fault]
    url: str
    request_id = "v-0123"

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, *args) -> None:
                pass

        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- scripting -----------------------------------------------------------------------------------
    def fail(self, method: str, path_prefix: str, *statuses: int, retry_after: str | None = None) -> None:
        self.faults += [Fault(method, path_prefix, status, retry_after) for status in statuses]

    def slow(self, method: str, path_prefix: str, seconds: float, times: int = 1) -> None:
        self.faults += [Fault(method, path_prefix, 0, delay=seconds) for _ in range(times)]

    # ---- HTTP ----------------------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        """The first scripted fault for this request, used up (call with the lock held)."""
        fault = next((f for f in self.faults if f.method == method and path.startswith(f.path_prefix)), None)
        if fault and fault.skip:
            fault.skip -= 1
            return None
        if fault:
            self.faults.remove(fault)
        return fault

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        return handler.headers.get("X-App-Id") == self.app_id and handler.headers.get("X-App-Token") == self.app_token

    def _send(self, handler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _error(self, handler, status: int, key: str, message: str, details: str, headers=None) -> None:
        body = {"code": status, "key": key, "message": message, "details": details, "request_id": self.request_id}
        self._send(handler, status, json.dumps(body).encode(), headers)

    def _unauthorized(self, handler) -> None:
        self._error(handler, 401, "unauthorized", "Unauthorized", "Cannot authenticate the request")

    def _scripted_error(self, handler, fault: Fault) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        self._error(handler, fault.status, "scripted", f"scripted {fault.status}", "fault", headers)
