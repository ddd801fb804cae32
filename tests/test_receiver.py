"""The webhook receiver, over real HTTP on loopback, with deliveries signed the way Voucherify signs them."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from ingest.voucherify.receiver import HEADER_TIMEOUT, RECEIVED_DIR, WEBHOOK_PATH, create_app, server_config
from ingest.voucherify.signature import compact_json

SECRET = "whsec-test-2f1c9a"
MAX_BODY = 64 * 1024


def vendor_signature(payload: dict, secret: str = SECRET) -> str:
    """What Voucherify sends: HMAC-SHA256 over JSON.stringify(payload) (compact, non-ASCII kept as is)."""
    stringified = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hmac.new(secret.encode(), stringified, hashlib.sha256).hexdigest()


def pretty(payload: dict) -> bytes:
    return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")


def compact(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def received_lines(landing: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted((landing / RECEIVED_DIR).rglob("*.ndjson")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningReceiver:
    """The app under a real uvicorn on an ephemeral loopback port, in a background thread."""

    def __init__(self, app, landing: Path, header_timeout: float = HEADER_TIMEOUT):
        self.landing = landing
        # Let uvicorn bind port 0 itself: a socket handed in via `sockets=` answers ~40 ms slower (Nagle).
        config = server_config(app, host="127.0.0.1", port=0, header_timeout=header_timeout, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""
        self.client = httpx.Client(timeout=10)  # one client: building one per request costs ~40 ms (TLS setup)

    def __enter__(self) -> RunningReceiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)

    def post(self, body, signature: str | bytes | None, **kwargs) -> httpx.Response:
        headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
        if signature is not None:
            headers["x-voucherify-signature"] = signature
        return self.client.post(self.url + WEBHOOK_PATH, content=body, headers=headers, **kwargs)


@pytest.fixture()
def receiver(tmp_path):
    landing = tmp_path / "landing"
    with RunningReceiver(create_app(landing, SECRET, MAX_BODY), landing) as running:
        yield running


@pytest.fixture(scope="module")
def samples(sample_webhooks) -> list[dict]:
    return [json.loads(line) for line in sample_webhooks.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_vendor_sample_is_accepted_pretty_or_compact_and_lands_as_signed(receiver, samples):
    for payload in samples:
        for body in (pretty(payload), compact(payload)):
            response = receiver.post(body, vendor_signature(payload))
            assert response.status_code == 200, (payload["id"], response.text)
    lines = received_lines(receiver.landing)
    assert len(lines) == 2 * len(samples)
    # Each line is exactly the compact body Voucherify signed, so it can be re-verified later.
    assert [json.loads(line) for line in lines[::2]] == samples
    assert all(line.encode() == compact(json.loads(line)) for line in lines)


def test_compaction_never_touches_whitespace_inside_strings(receiver, samples):
    payload = dict(samples[0])
    payload["data"] = {
        "note": '  spaced   "quoted" \\ back\\slash\t{ "not": "json" } ',
        "unicode": "Zażółć gęślą jaźń — 東京 🎉",
        "escaped_quote_then_space": 'ends with \\" and " ',
        "empty": "",
        "nested": [{"k": " v "}, [], {}],
    }
    body = pretty(payload)
    assert compact_json(body) == compact(payload)
    # An escaped form of the same text is a different body, and still verifies against its own compact form.
    ascii_body = json.dumps(payload, indent=4, ensure_ascii=True).encode()
    ascii_signature = hmac.new(SECRET.encode(), json.dumps(payload, separators=(",", ":")).encode(), hashlib.sha256)
    assert receiver.post(body, vendor_signature(payload)).status_code == 200
    assert receiver.post(ascii_body, ascii_signature.hexdigest()).status_code == 200
    stored = [json.loads(line) for line in received_lines(receiver.landing)]
    assert stored == [payload, payload]


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, "not-hex", "sha256=abc", "ż".encode() * 32],
    ids=["missing", "empty", "zeros", "garbage", "prefixed", "non-ascii"],
)
def test_missing_or_forged_signature_is_refused_and_nothing_written(receiver, samples, signature):
    response = receiver.post(compact(samples[48]), signature)
    assert response.status_code == 401
    assert received_lines(receiver.landing) == []


def test_signature_with_another_secret_or_a_tampered_body_is_refused(receiver, samples):
    payload = samples[48]
    assert receiver.post(compact(payload), vendor_signature(payload, "another-secret")).status_code == 401
    tampered = dict(payload, id=payload["id"] + "x")
    assert receiver.post(compact(tampered), vendor_signature(payload)).status_code == 401
    # Whitespace added *inside* a string changes the signed content.
    spaced = compact(payload).replace(b'"redemption.succeeded"', b'"redemption.succeeded "')
    assert receiver.post(spaced, vendor_signature(payload)).status_code == 401
    assert received_lines(receiver.landing) == []


def test_uppercase_hex_signature_is_accepted(receiver, samples):
    payload = samples[48]
    assert receiver.post(compact(payload), vendor_signature(payload).upper()).status_code == 200


def test_oversized_body_is_refused_by_declared_length_and_by_streamed_size(receiver, samples):
    payload = dict(samples[48], padding="x" * MAX_BODY)
    body = compact(payload)
    assert receiver.post(body, vendor_signature(payload)).status_code == 413

    def chunks():  # no Content-Length: only the streamed size can catch it
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = receiver.post(chunks(), vendor_signature(payload))
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    # A body exactly at the limit is fine.
    at_limit = dict(samples[48], padding="")
    at_limit["padding"] = "y" * (MAX_BODY - len(compact(at_limit)))
    assert len(compact(at_limit)) == MAX_BODY
    assert receiver.post(compact(at_limit), vendor_signature(at_limit)).status_code == 200
    assert len(received_lines(receiver.landing)) == 1


@pytest.mark.parametrize(
    "body",
    [b'{"id": "whs_1", "type": ', b'{"a": 1 2}', b"[1, 2]", b'{"a": NaN}', b"\xff\xfe{}", b""],
    ids=["truncated", "whitespace-between-numbers", "not-an-object", "nan", "not-utf8", "empty"],
)
def test_malformed_json_with_a_valid_signature_is_400_and_not_written(receiver, body):
    signature = hmac.new(SECRET.encode(), compact_json(body), hashlib.sha256).hexdigest()
    response = receiver.post(body, signature)
    assert response.status_code == 400, response.text
    assert received_lines(receiver.landing) == []


def test_repeated_delivery_is_appended_again(receiver, samples):
    payload = samples[57]
    for _ in range(3):
        assert receiver.post(compact(payload), vendor_signature(payload)).status_code == 200
    assert [json.loads(line) for line in received_lines(receiver.landing)] == [payload] * 3


def test_concurrent_deliveries_each_land_on_one_whole_line(receiver, samples):
    payloads = [dict(samples[i % len(samples)], id=f"whs_concurrent_{i}") for i in range(200)]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda p: receiver.post(pretty(p), vendor_signature(p)).status_code, payloads))
    assert statuses == [200] * len(payloads)
    stored = [json.loads(line) for line in received_lines(receiver.landing)]
    assert sorted(p["id"] for p in stored) == sorted(p["id"] for p in payloads)


def test_healthz_reports_the_current_file(receiver, samples):
    assert receiver.client.get(receiver.url + "/healthz").json() == {
        "status": "ok",
        "deliveries_accepted": 0,
        "current_file": None,
    }
    receiver.post(compact(samples[48]), vendor_signature(samples[48]))
    health = receiver.client.get(receiver.url + "/healthz").json()
    assert health["deliveries_accepted"] == 1
    assert health["current_file"].startswith("voucherify/webhooks/received/")


def test_files_rotate_by_size_by_age_and_by_utc_day(tmp_path, samples):
    landing = tmp_path / "landing"
    now = [1_767_225_000.0]  # 2025-12-31T23:50:00Z
    app = create_app(landing, SECRET, MAX_BODY, rotate_bytes=10_000, rotate_seconds=300, clock=lambda: now[0])
    payload = samples[48]
    with RunningReceiver(app, landing) as running:
        for _ in range(5):  # ~4.3 kB each: two per 10 kB file
            assert running.post(compact(payload), vendor_signature(payload)).status_code == 200
        now[0] += 301  # older than rotate_seconds
        running.post(compact(payload), vendor_signature(payload))
        now[0] += 300  # past midnight UTC
        running.post(compact(payload), vendor_signature(payload))
    files = sorted((landing / RECEIVED_DIR).rglob("*.ndjson"))
    per_file = [len(path.read_text().splitlines()) for path in files]
    assert per_file == [2, 2, 1, 1, 1]
    assert [path.parent.name for path in files] == ["2025-12-31"] * 4 + ["2026-01-01"]


@pytest.mark.parametrize("secret", [None, "   \t"], ids=["unset", "blanks"])
def test_refuses_to_start_without_a_secret(tmp_path, secret):
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOYALTY_")}
    env["LOYALTY_LANDING"] = str(tmp_path / "landing")
    if secret is not None:
        env["LOYALTY_WEBHOOK_SECRET"] = secret  # anyone could sign with a secret of blanks
    result = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "receive", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: no webhook secret: set LOYALTY_WEBHOOK_SECRET")
    assert "Traceback" not in result.stderr


@pytest.mark.fault
def test_receiver_killed_mid_stream_keeps_every_acknowledged_delivery(tmp_path, samples):
    """SIGKILL while deliveries are in flight: everything answered 200 is on disk, and every line parses."""
    landing = tmp_path / "landing"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOYALTY_")}
    env |= {"LOYALTY_WEBHOOK_SECRET": SECRET, "LOYALTY_LANDING": str(landing)}
    process = subprocess.Popen(
        [sys.executable, "-m", "loyalty.cli", "receive", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=5)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.05)

        acknowledged: list[str] = []
        lock = threading.Lock()
        killed = threading.Event()

        def send(i: int) -> None:
            payload = dict(samples[i % len(samples)], id=f"whs_kill_{i}")
            try:
                response = client.post(
                    url + WEBHOOK_PATH,
                    content=pretty(payload),
                    headers={"x-voucherify-signature": vendor_signature(payload)},
                )
            except httpx.TransportError:
                return
            if response.status_code == 200:
                with lock:
                    acknowledged.append(payload["id"])
                    if len(acknowledged) == 150 and not killed.is_set():
                        killed.set()
                        process.send_signal(signal.SIGKILL)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(600)))
        assert killed.is_set(), "the receiver was never killed"
    finally:
        client.close()
        process.kill()
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    stored_ids = [json.loads(line)["id"] for line in received_lines(landing)]  # every line parses
    assert set(acknowledged) <= set(stored_ids)
    assert len(acknowledged) >= 150
    assert len(stored_ids) < 600, "the kill happened after everything was sent; the test proved nothing"


@pytest.mark.fault
def test_a_failed_write_is_refused_and_leaves_no_torn_line(tmp_path, samples):
    """A real write failure (file size limit, like a full disk) answers 503 and the files stay clean."""
    landing = tmp_path / "landing"
    port = free_port()
    process = receiver_with_file_size_limit(landing, port, 10_000)
    client = httpx.Client(timeout=5)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.05)
        statuses, healths = {}, []
        for i in range(5):  # ~4.3 kB each: the third one crosses the 10 kB limit
            payload = dict(samples[48], id=f"whs_limit_{i}")
            response = client.post(
                url + WEBHOOK_PATH,
                content=compact(payload),
                headers={"x-voucherify-signature": vendor_signature(payload)},
            )
            statuses[payload["id"]] = response.status_code
            health = client.get(url + "/healthz")
            healths.append((health.status_code, health.json()["status"]))
    finally:
        client.close()
        process.terminate()
        process.wait(10)
    assert list(statuses.values()) == [200, 200, 503, 200, 200]  # the next delivery goes to a fresh file
    assert healths[2] == (503, "failing") and healths[3] == (200, "ok")  # monitoring sees it while it lasts
    stored = [json.loads(line)["id"] for line in received_lines(landing)]  # every line parses
    assert stored == [delivery for delivery, status in statuses.items() if status == 200]


@pytest.mark.fault
def test_deliveries_after_the_current_file_is_deleted_or_moved_away_stay_in_the_landing(receiver, samples, tmp_path):
    """Loaded files may be removed or moved: what is acknowledged afterwards must not go into the vanished file."""
    first = dict(samples[48], id="whs_before")
    assert receiver.post(compact(first), vendor_signature(first)).status_code == 200
    (current,) = (receiver.landing / RECEIVED_DIR).rglob("*.ndjson")
    current.unlink()
    acknowledged = []
    for i in range(50):
        if i == 25:  # now move the new current file out of the landing folder
            (moved,) = (receiver.landing / RECEIVED_DIR).rglob("*.ndjson")
            moved.rename(tmp_path / "archived.ndjson")
        payload = dict(samples[48], id=f"whs_after_{i}")
        assert receiver.post(compact(payload), vendor_signature(payload)).status_code == 200
        acknowledged.append(payload["id"])
    stored = [json.loads(line)["id"] for line in received_lines(receiver.landing)]
    assert stored == acknowledged[25:]
    moved_away = [json.loads(line)["id"] for line in (tmp_path / "archived.ndjson").read_text().splitlines()]
    assert moved_away == acknowledged[:25]
    health = receiver.client.get(receiver.url + "/healthz").json()
    assert (receiver.landing / health["current_file"]).exists()


@pytest.mark.fault
def test_healthz_reports_a_landing_where_every_write_fails(tmp_path, samples):
    """The received folder's path is taken by a file: every write fails, and monitoring must see it at once."""
    landing = tmp_path / "landing"
    (landing / RECEIVED_DIR).parent.mkdir(parents=True)
    (landing / RECEIVED_DIR).write_text("not a folder")
    with RunningReceiver(create_app(landing, SECRET, MAX_BODY), landing) as running:
        before = running.client.get(running.url + "/healthz")
        payload = samples[48]
        answer = running.post(compact(payload), vendor_signature(payload))
        after = running.client.get(running.url + "/healthz")
    assert (before.status_code, before.json()["status"]) == (503, "failing")
    assert "NotADirectoryError" in before.json()["last_error"] or "FileExistsError" in before.json()["last_error"]
    assert answer.status_code == 503
    assert (after.status_code, after.json()["status"]) == (503, "failing")


@pytest.mark.fault
def test_failed_writes_leave_no_empty_files(tmp_path, samples):
    """Every write fails (a file size limit below one delivery, as on a full disk): no file is left behind."""
    landing = tmp_path / "landing"
    port = free_port()
    process = receiver_with_file_size_limit(landing, port, 100)
    client = httpx.Client(timeout=5)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(client, url)
        statuses = []
        for i in range(3):
            payload = dict(samples[48], id=f"whs_full_{i}")
            response = client.post(
                url + WEBHOOK_PATH,
                content=compact(payload),
                headers={"x-voucherify-signature": vendor_signature(payload)},
            )
            statuses.append(response.status_code)
    finally:
        client.close()
        process.terminate()
        process.wait(10)
    assert statuses == [503, 503, 503]
    assert [p for p in (landing / RECEIVED_DIR).rglob("*") if p.is_file()] == []


def receiver_with_file_size_limit(landing: Path, port: int, limit_bytes: int) -> subprocess.Popen:
    """`loyalty receive` in a process whose files cannot grow past `limit_bytes`: real write failures, as on a
    full disk."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOYALTY_")}
    env |= {"LOYALTY_WEBHOOK_SECRET": SECRET, "LOYALTY_LANDING": str(landing)}

    def limit_file_size() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen(
        [sys.executable, "-m", "loyalty.cli", "receive", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit_file_size,
    )


def wait_until_listening(client: httpx.Client, url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            client.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.05)


# Bodies Python's JSON parser accepts that ingest would quarantine (each reason is one of the loader's checks).
NOT_LOADABLE = {
    "lone-surrogate-escape": b'{"id":"whs_s","event":{"id":"evt_s","type":"a.b"},"data":{"name":"\\ud800"}}',
    "no-event-id-nor-id": b'{"event":{"type":"a.b"},"data":{}}',
    "no-event-type": b'{"id":"whs_t","event":{"id":"evt_t"},"data":{}}',
    "created-at-not-a-time": b'{"id":"whs_c","event":{"id":"evt_c","type":"a.b","created_at":"soon"}}',
}


@pytest.mark.parametrize("body", NOT_LOADABLE.values(), ids=NOT_LOADABLE.keys())
def test_nothing_is_acknowledged_that_ingest_would_then_quarantine(receiver, body, tmp_path):
    from ingest import load_landing

    signature = hmac.new(SECRET.encode(), compact_json(body), hashlib.sha256).hexdigest()
    response = receiver.post(body, signature)
    good = dict(json.loads(NOT_LOADABLE["no-event-type"]), event={"id": "evt_ok", "type": "a.b"})
    assert receiver.post(compact(good), vendor_signature(good)).status_code == 200
    report = load_landing(receiver.landing, tmp_path / "w.duckdb", progress=False)
    assert (report.rows_loaded, report.rejected_total) == (1, 0)
    assert response.status_code == 400
    assert response.json()["reason"].startswith("not loadable: ")


def read_until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection; fails when it is still open after `within` s."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the receiver still held the connection after {within} s")
    return received


@pytest.mark.fault
def test_idle_and_slow_header_connections_are_closed(tmp_path):
    landing = tmp_path / "landing"
    with RunningReceiver(create_app(landing, SECRET, MAX_BODY), landing, header_timeout=0.5) as running:
        address = running.server.servers[0].sockets[0].getsockname()
        idle = socket.create_connection(address)
        slow = socket.create_connection(address)
        slow.sendall(b"POST /webhooks/voucherify HTTP/1.1\r\nHost: receiver\r\n")  # and never the rest
        started = time.monotonic()
        assert read_until_closed(idle, within=5) == b""
        assert read_until_closed(slow, within=5) == b""
        assert time.monotonic() - started < 3
        # A request that sends its headers in time is not cut off by the header timeout.
        payload = samples_payload()
        assert running.post(compact(payload), vendor_signature(payload)).status_code == 200


@pytest.mark.fault
def test_a_body_that_stops_arriving_gets_408_and_the_connection_is_closed(tmp_path):
    landing = tmp_path / "landing"
    app = create_app(landing, SECRET, MAX_BODY, body_timeout=0.5)
    with RunningReceiver(app, landing) as running:
        address = running.server.servers[0].sockets[0].getsockname()
        half = socket.create_connection(address)
        half.sendall(
            b"POST /webhooks/voucherify HTTP/1.1\r\nHost: receiver\r\nContent-Length: 1000\r\n"
            b"x-voucherify-signature: " + b"0" * 64 + b'\r\n\r\n{"id": "whs_'
        )
        answer = read_until_closed(half, within=5)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert received_lines(landing) == []


def samples_payload() -> dict:
    return {"id": "whs_alive", "event": {"id": "evt_alive", "type": "customer.created"}, "data": {}}


@pytest.mark.fault
def test_half_sent_unsigned_bodies_cost_bounded_memory(tmp_path):
    """100 connections each stalled in the middle of a ~1 MiB body with a forged signature: only a bounded
    number of bodies is buffered (the rest wait for a slot with uvicorn's read buffer paused)."""
    landing = tmp_path / "landing"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOYALTY_")}
    env |= {"LOYALTY_WEBHOOK_SECRET": SECRET, "LOYALTY_LANDING": str(landing)}
    process = subprocess.Popen(
        [sys.executable, "-m", "loyalty.cli", "receive", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connections = []
    try:
        with httpx.Client(timeout=5) as client:
            wait_until_listening(client, f"http://127.0.0.1:{port}")
        before = resident_mb(process.pid)
        partial = b'{"padding": "' + b"x" * (900 * 1024)
        for _ in range(100):
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(
                b"POST /webhooks/voucherify HTTP/1.1\r\nHost: receiver\r\nContent-Length: 1048576\r\n"
                b"x-voucherify-signature: " + b"0" * 64 + b"\r\n\r\n"
            )
            connection.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                connection.sendall(partial)  # as much as the server takes before it stops reading
            connections.append(connection)
        time.sleep(2)
        grown = resident_mb(process.pid) - before
    finally:
        for connection in connections:
            connection.close()
        process.terminate()
        process.wait(10)
    assert grown < 50, f"100 half-sent bodies grew the receiver by {grown} MB"


def resident_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) // 1024


@pytest.mark.parametrize("depth", [2_000, 10_000])
def test_a_deeply_nested_signed_body_is_400_not_a_server_error(receiver, depth):
    """A 500 would make Voucherify retry it forever; the body is malformed for us, so 400."""
    body = b'{"id":"whs_deep","event":{"id":"evt_deep","type":"a.b"},"data":' + b'{"a":' * depth + b"1" + b"}" * depth
    body += b"}"
    response = receiver.post(body, hmac.new(SECRET.encode(), compact_json(body), hashlib.sha256).hexdigest())
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "malformed JSON: nested too deeply"
    assert received_lines(receiver.landing) == []
    assert receiver.client.get(receiver.url + "/healthz").status_code == 200
