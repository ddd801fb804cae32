"""`loyalty receive`: an HTTP endpoint for signed Voucherify webhooks (Starlette under uvicorn).

A delivery is acknowledged (200) only after it has been appended to an NDJSON file in the landing folder,
flushed and fsync'ed, so whatever Voucherify saw acknowledged survives a crash of this process or the
machine. Everything else is refused without writing a byte: no or wrong signature → 401, a body over the
limit → 413 (checked on Content-Length and again on the bytes actually streamed), malformed JSON → 400.
Voucherify delivers at least once and retries; a repeated delivery is simply appended again and
deduplicated downstream on (event.id, source.id).

Files: <landing>/voucherify/webhooks/received/<UTC date>/<UTC time>-<pid>-<n>.ndjson, one compact JSON
delivery per line; a new file is started per process, per UTC day, and when the current one exceeds the
size or age limit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingest.durable import fsync_path
from ingest.errors import IngestError
from ingest.landing import RECEIVED_DIR
from ingest.voucherify.signature import SIGNATURE_HEADER, compact_json, signature_matches

WEBHOOK_PATH = "/webhooks/voucherify"
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024
DEFAULT_ROTATE_SECONDS = 3600

log = logging.getLogger(__name__)


class DeliveryLog:
    """Appends lines to size- and age-rotated NDJSON files; `append` returns only once the line is on disk."""

    def __init__(
        self,
        folder: Path,
        *,
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
        rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self.folder = folder
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.clock = clock
        self.accepted = 0
        self.current_path: Path | None = None
        self.last_error: str | None = None  # of the latest append; cleared by the next one that succeeds
        # Requests are appended from worker threads; one lock keeps lines whole and in one file.
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._opened_at = 0.0
        self._day = ""
        self._files_opened = 0

    def append(self, line: bytes) -> Path:
        record = line + b"\n"
        with self._lock:
            now = self.clock()
            day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
            if (
                self._fd is None
                or day != self._day
                or now - self._opened_at >= self.rotate_seconds
                or (self._size > 0 and self._size + len(record) > self.rotate_bytes)
            ):
                self._open_next(now, day)
            assert self._fd is not None and self.current_path is not None
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except OSError as exc:
                self.last_error = f"{type(exc).__name__}: {exc.strerror or exc}"
                # Disk full, file too large, I/O error: cut off the half-written line so it cannot glue itself
                # to the next delivery, and carry on in a new file. The caller answers 5xx; Voucherify retries.
                try:
                    os.ftruncate(self._fd, self._size)
                finally:
                    os.close(self._fd)
                    self._fd = None
                raise
            self._size += len(record)
            self.accepted += 1
            self.last_error = None
            return self.current_path

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _open_next(self, now: float, day: str) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._files_opened += 1
        folder = self.folder / day
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"{stamp}-{os.getpid()}-{self._files_opened:04d}.ndjson"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o644)
        fsync_path(folder)  # the new name must survive a crash as well as its contents
        self.current_path, self._size, self._opened_at, self._day = path, 0, now, day


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"status": "rejected", "reason": reason}, status_code=status)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def create_app(
    landing: Path,
    secret: str,
    max_body_bytes: int,
    *,
    rotate_bytes: int = DEFAULT_ROTATE_BYTES,
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The receiver as an ASGI app (run it under any ASGI server; `serve` uses uvicorn)."""
    if not secret:
        raise IngestError(
            "no webhook secret: set LOYALTY_WEBHOOK_SECRET (or webhook_secret in loyalty.toml) "
            "to the webhook secret of your Voucherify project"
        )
    if max_body_bytes <= 0:
        raise IngestError(f"receiver_max_body_bytes must be positive, got {max_body_bytes}")
    deliveries = DeliveryLog(
        Path(landing) / RECEIVED_DIR, rotate_bytes=rotate_bytes, rotate_seconds=rotate_seconds, clock=clock
    )

    async def receive_webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                return _refuse(400, "invalid Content-Length")
            if int(declared) > max_body_bytes:
                return _refuse(413, f"body larger than {max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():  # chunked uploads have no Content-Length: count what arrives
            body += chunk
            if len(body) > max_body_bytes:
                return _refuse(413, f"body larger than {max_body_bytes} bytes")
        # Compacting, hashing, parsing and the fsync take up to ~0.2 s for a 1 MiB body: off the event loop.
        return await anyio.to_thread.run_sync(accept, bytes(body), request.headers.get(SIGNATURE_HEADER))

    def accept(body: bytes, signature: str | None) -> JSONResponse:
        if not signature:
            return _refuse(401, f"missing {SIGNATURE_HEADER} header")
        compacted = compact_json(body)
        if not signature_matches(compacted, secret, signature):
            return _refuse(401, "signature does not match")
        try:
            # Parse the body as sent: compacting first could turn invalid JSON (`1 2`) into valid JSON (`12`).
            payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            return _refuse(400, f"malformed JSON: {exc}")
        if not isinstance(payload, dict):
            return _refuse(400, "malformed JSON: a delivery must be a JSON object")
        # The compacted bytes are exactly what Voucherify signed, on one line (JSON strings cannot hold raw newlines).
        try:
            path = deliveries.append(compacted)
        except OSError as exc:
            log.error("could not store a delivery: %s", exc)
            return _refuse(503, "could not store the delivery; retry later")
        log.info("accepted delivery %s into %s", payload.get("id"), path.name)
        return JSONResponse({"status": "accepted"})

    async def healthz(request: Request) -> JSONResponse:
        current = deliveries.current_path
        body = {
            "status": "failing" if deliveries.last_error else "ok",
            "deliveries_accepted": deliveries.accepted,
            "current_file": str(current.relative_to(landing)) if current else None,
        }
        if deliveries.last_error:
            body["last_error"] = deliveries.last_error
        return JSONResponse(body, status_code=503 if deliveries.last_error else 200)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        deliveries.close()

    app = Starlette(
        routes=[Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.deliveries = deliveries
    return app


def serve(settings, *, landing: Path, host: str, port: int) -> None:
    """Run the receiver until interrupted; refuses to start without a webhook secret."""
    import uvicorn

    app = create_app(
        landing,
        settings.get("webhook_secret") or "",
        int(settings.get("receiver_max_body_bytes")),
        rotate_bytes=int(settings.get("receiver_rotate_bytes")),
        rotate_seconds=float(settings.get("receiver_rotate_seconds")),
    )
    print(f"receiving Voucherify webhooks on http://{host}:{port}{WEBHOOK_PATH} into {Path(landing) / RECEIVED_DIR}")
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
