"""`loyalty receive`: an HTTP endpoint for signed Voucherify webhooks (Starlette under uvicorn).

A delivery is acknowledged (200) only after it has been appended to an NDJSON file in the landing folder,
flushed and fsync'ed, so whatever Voucherify saw acknowledged survives a crash of this process or the
machine. Everything else is refused without writing a byte: no or wrong signature → 401, a body over the
limit → 413 (checked on Content-Length and again on the bytes actually streamed), malformed JSON or a
delivery ingest would quarantine (judged by the loader's own SQL) → 400. Headers must arrive within 10 s
and a body within 30 s (else the connection is closed, or 408), and at most 16 bodies are read at once.
Voucherify delivers at least once and retries; a repeated delivery is simply appended again and
deduplicated downstream on (event.id, source.id).

Files: <landing>/voucherify/webhooks/received/<UTC date>/<UTC time>-<pid>-<n>.ndjson, one compact JSON
delivery per line; a new file is started per process, per UTC day, and when the current one exceeds the
size or age limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
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

from ingest.context import DEFAULT_MAX_RECORD_BYTES
from ingest.durable import fsync_path
from ingest.errors import IngestError
from ingest.landing import RECEIVED_DIR
from ingest.voucherify.signature import SIGNATURE_HEADER, compact_json, signature_matches
from ingest.voucherify.webhooks import DeliveryJudge

WEBHOOK_PATH = "/webhooks/voucherify"
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024
DEFAULT_ROTATE_SECONDS = 3600
# Slow or stalled clients (or a flood of unsigned bodies) must not hold connections and memory indefinitely.
HEADER_TIMEOUT = 10.0  # seconds for the request line and headers
BODY_TIMEOUT = 30.0  # seconds for the whole body, once headers are in
MAX_BODIES = 16  # bodies read at once (each up to the body limit); others wait for a slot …
SLOT_WAIT = 10.0  # … this long, then get 503 (Voucherify retries)

log = logging.getLogger(__name__)


class DeliveryLog:
    """Appends lines to size- and age-rotated NDJSON files; `append` returns only once the line is on disk
    in a file that is still in the landing folder."""

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
            try:
                path = self._append(record)
            except OSError as exc:
                self.last_error = _describe(exc)
                raise
            self.accepted += 1
            self.last_error = None
            return path

    def _append(self, record: bytes) -> Path:
        # The current file may be deleted or moved at any time (a loaded file may be removed): a line written
        # into it then is gone. So the file is checked before the write, and again after the fsync; a line
        # that went into a file no longer at its path is written again into a new one (a copy that survived a
        # move is a duplicate, which staging removes).
        for _ in range(_MAX_REWRITES):
            now = self.clock()
            day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
            if (
                self._fd is None
                or day != self._day
                or now - self._opened_at >= self.rotate_seconds
                or (self._size > 0 and self._size + len(record) > self.rotate_bytes)
                or not self._still_in_place()
            ):
                self._open_next(now, day)
            assert self._fd is not None and self.current_path is not None
            self._write(record)
            if self._still_in_place():
                self._size += len(record)
                return self.current_path
        raise OSError(errno.EIO, f"the file being written in {self.folder} keeps disappearing")

    def _write(self, record: bytes) -> None:
        try:
            view = memoryview(record)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError:
            # Disk full, file too large, I/O error: cut off the half-written line so it cannot glue itself to the
            # next delivery, drop the file if nothing else is in it, and carry on in a new file. The caller
            # answers 5xx; Voucherify retries.
            self._abandon_current()
            raise

    def _abandon_current(self) -> None:
        fd, path = self._fd, self.current_path
        self._fd = self.current_path = None
        try:
            os.ftruncate(fd, self._size)
            if self._size == 0 and path is not None and self._is_our_file(fd, path):
                path.unlink()
                fsync_path(path.parent)
        except OSError as exc:
            log.error("could not clean up %s after a failed write: %s", path, exc)
        finally:
            os.close(fd)

    def _still_in_place(self) -> bool:
        return self._fd is not None and self.current_path is not None and self._is_our_file(self._fd, self.current_path)

    @staticmethod
    def _is_our_file(fd: int, path: Path) -> bool:
        try:
            ours, named = os.fstat(fd), os.stat(path)
        except FileNotFoundError:
            return False
        return ours.st_nlink > 0 and (ours.st_dev, ours.st_ino) == (named.st_dev, named.st_ino)

    def problem(self) -> str | None:
        """Why deliveries fail right now, or None: the last write's error, else a probe of the landing folder
        (a file created, written and removed there), so a broken landing shows before a delivery fails on it."""
        with self._lock:
            if self.last_error:
                return self.last_error
            if self._fd is not None and not self._still_in_place():
                self._close()  # removed or moved: the next delivery starts a new file
            probe = self.folder / f".healthz-{os.getpid()}"
            try:
                _make_folder(self.folder)
                fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, b"ok")
                finally:
                    os.close(fd)
                    probe.unlink(missing_ok=True)
            except OSError as exc:
                return _describe(exc)
            return None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.current_path = None

    def _open_next(self, now: float, day: str) -> None:
        self._close()
        self._files_opened += 1
        folder = self.folder / day
        _make_folder(folder)
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"{stamp}-{os.getpid()}-{self._files_opened:04d}.ndjson"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o644)
        fsync_path(folder)  # the new name must survive a crash as well as its contents
        self.current_path, self._size, self._opened_at, self._day = path, 0, now, day


_MAX_REWRITES = 3


def _make_folder(folder: Path) -> None:
    """Create `folder` and any missing parents, each new name fsynced into its parent."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        fsync_path(created.parent)


def _describe(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _refuse(status: int, reason: str, *, close: bool = False) -> JSONResponse:
    """`close`: the body was not read (or not all of it); the connection cannot carry another request."""
    headers = {"Connection": "close"} if close else None
    return JSONResponse({"status": "rejected", "reason": reason}, status_code=status, headers=headers)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def create_app(
    landing: Path,
    secret: str,
    max_body_bytes: int,
    *,
    rotate_bytes: int = DEFAULT_ROTATE_BYTES,
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
    body_timeout: float = BODY_TIMEOUT,
    max_bodies: int = MAX_BODIES,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The receiver as an ASGI app (run it under any ASGI server; `serve` uses uvicorn with a header timeout)."""
    if not secret or not secret.strip():
        raise IngestError(
            "no webhook secret: set LOYALTY_WEBHOOK_SECRET (or webhook_secret in loyalty.toml) "
            "to the webhook secret of your Voucherify project"
        )
    if not 0 < max_body_bytes <= DEFAULT_MAX_RECORD_BYTES:
        raise IngestError(
            f"receiver_max_body_bytes must be between 1 and {DEFAULT_MAX_RECORD_BYTES} (ingest quarantines "
            f"larger deliveries), got {max_body_bytes}"
        )
    judge = DeliveryJudge()
    # Bodies are read before their signature can be checked: at most `max_bodies` at a time are buffered.
    body_slots = anyio.Semaphore(max_bodies)
    deliveries = DeliveryLog(
        Path(landing) / RECEIVED_DIR, rotate_bytes=rotate_bytes, rotate_seconds=rotate_seconds, clock=clock
    )

    async def receive_webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                return _refuse(400, "invalid Content-Length", close=True)
            if int(declared) > max_body_bytes:
                return _refuse(413, f"body larger than {max_body_bytes} bytes", close=True)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:  # no need to read a body that cannot be accepted
            return _refuse(401, f"missing {SIGNATURE_HEADER} header", close=True)
        try:
            with anyio.fail_after(SLOT_WAIT):
                await body_slots.acquire()
        except TimeoutError:
            return _refuse(503, "too many deliveries arriving at once; retry later", close=True)
        try:
            body = bytearray()
            try:
                with anyio.fail_after(body_timeout):
                    async for chunk in request.stream():  # chunked uploads have no Content-Length: count what arrives
                        body += chunk
                        if len(body) > max_body_bytes:
                            return _refuse(413, f"body larger than {max_body_bytes} bytes", close=True)
            except TimeoutError:
                return _refuse(408, f"body not received within {body_timeout:g} s", close=True)
            # Compacting, hashing, parsing and the fsync take up to ~0.2 s for a 1 MiB body: off the event loop.
            return await anyio.to_thread.run_sync(accept, bytes(body), signature)
        finally:
            body_slots.release()

    def accept(body: bytes, signature: str) -> JSONResponse:
        compacted = compact_json(body)
        if not signature_matches(compacted, secret, signature):
            return _refuse(401, "signature does not match")
        try:
            # Parse the body as sent: compacting first could turn invalid JSON (`1 2`) into valid JSON (`12`).
            payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            return _refuse(400, f"malformed JSON: {exc}")
        except RecursionError:  # nesting past Python's recursion limit (~1,000 levels); no delivery comes near
            return _refuse(400, "malformed JSON: nested too deeply")
        if not isinstance(payload, dict):
            return _refuse(400, "malformed JSON: a delivery must be a JSON object")
        # Never 2xx what ingest would then quarantine (a lone surrogate escape, no event id, …): ask its own SQL.
        reason = judge.reason(compacted.decode("utf-8"))
        if reason:
            return _refuse(400, f"not loadable: {reason}")
        # The compacted bytes are exactly what Voucherify signed, on one line (JSON strings cannot hold raw newlines).
        try:
            path = deliveries.append(compacted)
        except OSError as exc:
            log.error("could not store a delivery: %s", exc)
            return _refuse(503, "could not store the delivery; retry later")
        log.info("accepted delivery %s into %s", payload.get("id"), path.name)
        return JSONResponse({"status": "accepted"})

    async def healthz(request: Request) -> JSONResponse:
        problem = await anyio.to_thread.run_sync(deliveries.problem)
        current = deliveries.current_path
        body = {
            "status": "failing" if problem else "ok",
            "deliveries_accepted": deliveries.accepted,
            "current_file": str(current.relative_to(landing)) if current else None,
        }
        if problem:
            body["last_error"] = problem
        return JSONResponse(body, status_code=503 if problem else 200)

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


def server_config(
    app: Starlette, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT, log_level: str = "info"
):
    """uvicorn's configuration for the receiver: its HTTP/1.1 protocol with a bound on the time to send headers."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_with_header_timeout(header_timeout),
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )


def _with_header_timeout(seconds: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request line and headers have not all arrived within
    `seconds` of it opening or of the previous response (uvicorn itself waits for them forever)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timer()

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:
                self._cancel_header_timer()  # the headers are in; the app bounds the body

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            if not self.transport.is_closing():
                self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def serve(
    landing: Path,
    *,
    secret: str,
    host: str,
    port: int,
    max_body_bytes: int,
    rotate_bytes: int = DEFAULT_ROTATE_BYTES,
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
) -> None:
    """Run the receiver until interrupted; refuses to start without a webhook secret."""
    import uvicorn

    app = create_app(landing, secret, max_body_bytes, rotate_bytes=rotate_bytes, rotate_seconds=rotate_seconds)
    print(f"receiving Voucherify webhooks on http://{host}:{port}{WEBHOOK_PATH} into {Path(landing) / RECEIVED_DIR}")
    # On SIGINT/SIGTERM uvicorn shuts down gracefully (requests in flight finish, files are closed), then raises
    # the signal again for the caller's handler.
    uvicorn.Server(server_config(app, host=host, port=port)).run()
