"""`loyalty pull voucherify` against a real HTTP server on loopback that behaves like the Voucherify API."""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_voucherify_api import FakeVoucherify
from rich.console import Console

from ingest.errors import IngestError
from ingest.voucherify.client import RetryPolicy
from ingest.voucherify.pull import ExportPolling, Paging, PullOptions, PullReport, pull
from ingest.voucherify.pull_state import STATE_FILE

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CAMPAIGN = "camp_loyalty_main"
QUIET_CAMPAIGN = "camp_loyalty_quiet"
# Small pages and a low page cap so the window has to slide several times over a few hundred objects.
FAST = PullOptions(
    retry=RetryPolicy(backoff_base=0.01, backoff_cap=0.05),
    request_timeout=5.0,
    polling=ExportPolling(interval=0.01, cap=0.02),
    paging=Paging(page_limit=10, max_page=3),
    settle_seconds=0,
)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_redemptions(count: int, start: int = 0, base: datetime = T0) -> list[dict]:
    # Three redemptions per timestamp: page boundaries fall inside groups that share created_at.
    return [
        {
            "id": f"r_{n:05d}",
            "object": "redemption",
            "date": iso(base + timedelta(seconds=(n - start) // 3)),
            "result": "SUCCESS",
            "status": "SUCCEEDED",
            "customer_id": f"cust_{n % 17}",
            "order": {"id": f"ord_{n:05d}", "amount": 1000 + n, "metadata": {"location_id": "Paris"}},
            "metadata": {"note": 'café ☕ "quoted"'},
        }
        for n in range(start, start + count)
    ]


def make_transactions(count: int, start: int = 0) -> list[dict]:
    return [
        {
            "id": f"vtx_{n:05d}",
            "object": "loyalty_card_transaction",
            "campaign_id": CAMPAIGN,
            "voucher_id": "v_card_1",
            "type": "POINTS_ACCRUAL",
            "details": {"balance": {"points": 10, "balance": 10 * (n + 1)}, "order": {"id": f"ord_{n:05d}"}},
            "created_at": iso(T0 + timedelta(minutes=n)),
        }
        for n in range(start, start + count)
    ]


def make_export_rows(count: int) -> list[dict]:
    return [
        {
            "id": f"r_{n:05d}",
            "object": "redemption",
            "date": iso(T0 + timedelta(hours=n)),
            "result": "SUCCESS",
            "customer_source_id": f"src_{n}",
            "created_at": iso(T0 + timedelta(hours=n)),
        }
        for n in range(count)
    ]


def pull_from(fake: FakeVoucherify, landing: Path, *, options: PullOptions = FAST, **overrides) -> PullReport:
    """A pull from the fake API with its credentials, exporting redemptions and customers unless told otherwise."""
    args = dict(
        app_id=fake.app_id,
        app_token=fake.app_token,
        base_url=fake.url,
        exports=["redemption", "customer"],
        console=quiet(),
    )
    return pull(landing, options=options, **(args | overrides))


def landed(landing: Path, endpoint: str) -> list[dict]:
    files = sorted((landing / "voucherify" / "api" / endpoint).rglob("*.ndjson"))
    return [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]


def export_rows(landing: Path, exported_object: str) -> list[dict]:
    rows: list[dict] = []
    for path in sorted((landing / "voucherify" / "exports" / exported_object).glob("*.csv")):
        rows += list(csv.DictReader(path.open(encoding="utf-8")))
    return rows


def quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


@pytest.fixture()
def fake():
    with FakeVoucherify(
        redemptions=make_redemptions(250),
        loyalty_transactions={CAMPAIGN: make_transactions(35), QUIET_CAMPAIGN: []},
        other_campaigns=[{"id": "camp_discounts", "object": "campaign", "campaign_type": "DISCOUNT_COUPONS"}],
        export_rows={
            "redemption": make_export_rows(25),
            "customer": [
                {
                    "id": "cust_1",
                    "source_id": "src_1",
                    "email": "a@example.com",
                    "redemptions_total_succeeded": "3",
                    "created_at": iso(T0),
                }
            ],
        },
        rows_per_file=10,
        max_page=3,
    ) as server:
        yield server


def test_first_pull_lands_every_object_exactly_once(fake, tmp_path):
    landing = tmp_path / "landing"
    report = pull_from(fake, landing)

    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions]
    assert landed(landing, "redemptions")[7] == fake.redemptions[7]  # objects land as the API sent them
    assert [t["id"] for t in landed(landing, "loyalty_transactions")] == [t["id"] for t in make_transactions(35)]
    assert report.list_objects == {"redemptions": 250, "loyalty_transactions": 35}
    # The API refuses page 4 here; the window slid instead of asking for it.
    pages = [int(q["page"]) for q in fake.calls("GET", "/v1/redemptions")]
    assert max(pages) == 3 and pages.count(1) > 5
    # Export lifecycle: created, polled through SCHEDULED and IN_PROGRESS, downloaded as 3 files of ≤ 10 rows.
    assert [r["id"] for r in export_rows(landing, "redemption")] == [r["id"] for r in make_export_rows(25)]
    assert report.export_files == {"redemption": 3, "customer": 1}
    assert len(fake.calls("GET", "/v1/exports/exp_0001")) == 3 + 3  # 3 polls, then 3 downloads
    assert export_rows(landing, "customer")[0]["redemptions_total_succeeded"] == "3"
    state = json.loads((landing / STATE_FILE).read_text())
    assert datetime.fromisoformat(state["lists"]["redemptions"]["cursor_date"]) == datetime.fromisoformat(
        fake.redemptions[-1]["date"]
    )
    assert state["lists"][f"loyalty_transactions/{CAMPAIGN}"]["starting_after_id"] == "vtx_00034"
    assert "pending" not in state["exports"]["redemption"]
    # No temporary files left behind for ingest to trip over.
    assert not [p for p in landing.rglob("*") if p.name.endswith(".tmp")]


def test_next_pull_fetches_only_what_is_new(fake, tmp_path):
    landing = tmp_path / "landing"
    pull_from(fake, landing)
    first_export = fake.exports["exp_0001"]["parameters"]["filters"]["created_at"]["conditions"]

    fake.redemptions += make_redemptions(40, start=250, base=T0 + timedelta(days=1))
    fake.loyalty_transactions[CAMPAIGN] += make_transactions(12, start=35)
    report = pull_from(fake, landing)

    assert report.list_objects == {"redemptions": 40, "loyalty_transactions": 12}
    ids = [r["id"] for r in landed(landing, "redemptions")]
    assert ids == [r["id"] for r in fake.redemptions]  # no duplicates, no gaps, in order
    assert len(landed(landing, "loyalty_transactions")) == 47
    # The second redemption export starts where the first one ended (with a one-second overlap) …
    second = [e for e in fake.exports.values() if e["exported_object"] == "redemption"][1]
    after = second["parameters"]["filters"]["created_at"]["conditions"]["$after"][0]
    assert datetime.fromisoformat(first_export["$before"][0]) - datetime.fromisoformat(after) == timedelta(seconds=1)
    # … while customers are a full snapshot every time (their aggregates change).
    customer_exports = [e for e in fake.exports.values() if e["exported_object"] == "customer"]
    assert len(customer_exports) == 2 and all("created_at" not in e["parameters"]["filters"] for e in customer_exports)


def test_rate_limits_and_server_errors_are_retried(fake, tmp_path):
    fake.fail("GET", "/v1/redemptions", 429, retry_after="1")
    fake.fail("GET", "/v1/loyalties/", 503, 502, 500)
    fake.fail("POST", "/v1/exports", 504)
    started = time.monotonic()
    report = pull_from(fake, tmp_path / "landing")
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert report.retries == 5
    assert report.list_objects == {"redemptions": 250, "loyalty_transactions": 35}


def test_timeouts_are_retried(fake, tmp_path):
    fake.slow("GET", "/v1/redemptions", seconds=0.5)
    report = pull_from(fake, tmp_path / "landing", options=replace(FAST, request_timeout=0.2))
    assert report.retries == 1 and report.list_objects["redemptions"] == 250


def test_persistent_server_errors_fail_with_one_clear_line(fake, tmp_path):
    fake.fail("GET", "/v1/redemptions", *[503] * 10)
    with pytest.raises(IngestError) as failure:
        pull_from(fake, tmp_path / "landing", options=replace(FAST, retry=replace(FAST.retry, max_attempts=3)))
    assert str(failure.value) == "Voucherify API GET /v1/redemptions page 1: HTTP 503; giving up after 3 attempts"


def test_rate_limits_count_against_the_documented_six_attempts(fake, tmp_path):
    fake.fail("GET", "/v1/redemptions", *[429] * 6, retry_after="0")
    with pytest.raises(IngestError) as failure:
        pull_from(fake, tmp_path / "landing", exports=[])
    assert str(failure.value) == (
        "Voucherify API GET /v1/redemptions page 1: HTTP 429 rate limited; giving up after 6 attempts"
    )
    assert RetryPolicy().max_attempts == 6  # the default docs/connectors.md states


def test_overlong_retry_after_fails_instead_of_hanging(fake, tmp_path):
    fake.fail("GET", "/v1/redemptions", 429, retry_after="3600")
    with pytest.raises(IngestError, match="Retry-After 3600 s exceeds the 300 s we wait"):
        pull_from(fake, tmp_path / "landing")


def test_client_errors_show_the_api_code_and_message(fake, tmp_path):
    with pytest.raises(IngestError) as failure:
        pull_from(fake, tmp_path / "landing", app_token="wrong-token")
    assert str(failure.value) == (
        "Voucherify API POST /v1/exports: HTTP 401 [401] unauthorized: Unauthorized: Cannot authenticate the request"
    )
    with pytest.raises(
        IngestError, match=r"HTTP 404 \[404\] not_found: Resource not found: Cannot find campaign with id camp_nope"
    ):
        pull_from(fake, tmp_path / "landing", exports=[], loyalty_campaigns=["camp_nope"])


def test_missing_credentials_are_a_clear_error(fake, tmp_path):
    with pytest.raises(IngestError, match="set LOYALTY_VOUCHERIFY_APP_ID and LOYALTY_VOUCHERIFY_APP_TOKEN"):
        pull_from(fake, tmp_path / "landing", app_id=None, app_token=None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"object":"list","data_ref":"red',
        b'{"object":"list","data_ref":"redemptions"}',
        b'{"object":"list","data_ref":"redemptions","redemptions":[{"no":"id"}]}',
    ],
    ids=["truncated-json", "no-list", "item-without-id"],
)
def test_malformed_page_stops_with_state_preserved_and_the_next_pull_resumes(fake, tmp_path, body):
    landing = tmp_path / "landing"
    fake.malformed("GET", "/v1/redemptions", body, skip=4)
    with pytest.raises(IngestError, match=r"GET /v1/redemptions page 2: malformed response .*the next pull resumes"):
        pull_from(fake, landing, exports=[])
    # The four good pages before it are kept: 3 full pages, then 7 new on the first page of the slid window.
    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions[:37]]
    pull_from(fake, landing, exports=[])
    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions]


def test_export_error_is_retried_once_then_reported_after_the_rest_is_pulled(fake, tmp_path):
    landing = tmp_path / "landing"
    fake.export_failures = {"redemption"}
    with pytest.raises(IngestError) as failure:
        pull_from(fake, landing)
    assert str(failure.value) == (
        "Voucherify export exp_0002 (redemption) ended in ERROR: Export generation failed; "
        "the next pull creates a new one"
    )
    # The pull moved on: the customer export and both lists were pulled.
    assert len(export_rows(landing, "customer")) == 1
    assert len(landed(landing, "redemptions")) == 250 and len(landed(landing, "loyalty_transactions")) == 35
    fake.export_failures = set()
    pull_from(fake, landing)
    statuses = [e["status"] for e in fake.exports.values() if e["exported_object"] == "redemption"]
    assert statuses == ["ERROR", "ERROR", "DONE"]
    assert len(export_rows(landing, "redemption")) == 25


def test_an_export_still_running_is_resumed_not_recreated(fake, tmp_path):
    landing = tmp_path / "landing"
    fake.polls_per_status = 1000
    with pytest.raises(IngestError) as failure:
        pull_from(fake, landing, options=replace(FAST, polling=replace(FAST.polling, timeout=0.2)))
    assert str(failure.value) == (
        "Voucherify export exp_0001 (redemption) still SCHEDULED after 0 s; the next pull resumes waiting for it; "
        "Voucherify export exp_0002 (customer) still SCHEDULED after 0 s; the next pull resumes waiting for it"
    )
    assert len(landed(landing, "redemptions")) == 250  # the lists did not wait for the exports
    fake.polls_per_status = 1
    pull_from(fake, landing)
    assert [e["id"] for e in fake.exports.values()] == ["exp_0001", "exp_0002"]
    assert len(export_rows(landing, "redemption")) == 25


def test_secrets_are_never_printed_or_logged(fake, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    fake.fail("GET", "/v1/exports/", 503)  # a retry warning, and httpx logging every URL with its token
    console = Console(record=True, width=200)
    pull_from(fake, tmp_path / "landing", console=console)
    with pytest.raises(IngestError) as failure:
        pull_from(fake, tmp_path / "l2", loyalty_campaigns=["camp_nope"], console=console)
    captured = capfd.readouterr()
    everything = caplog.text + captured.out + captured.err + console.export_text() + str(failure.value)
    assert "HTTP Request: GET" in caplog.text and "<redacted>" in caplog.text  # the log was really captured
    download_tokens = [export["token"] for export in fake.exports.values()]
    for secret in [fake.app_token, *download_tokens]:
        assert secret not in everything
    assert "SECRET" not in everything


def test_two_pulls_at_once_are_refused(fake, tmp_path):
    from ingest.voucherify.pull_state import pull_lock

    landing = tmp_path / "landing"
    with pull_lock(landing), pytest.raises(IngestError, match="another `loyalty pull voucherify` is running"):
        pull_from(fake, landing)


@pytest.mark.fault
def test_pull_killed_mid_way_resumes_without_duplicates_or_gaps(tmp_path):
    """SIGKILL the real CLI between pages; the next pull lands exactly the missing objects."""
    landing = tmp_path / "landing"
    with FakeVoucherify(redemptions=make_redemptions(3000), page_delay=0.03) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
        env |= {"LOYALTY_VOUCHERIFY_APP_ID": fake.app_id, "LOYALTY_VOUCHERIFY_APP_TOKEN": fake.app_token}
        config = tmp_path / "loyalty.toml"
        config.write_text('voucherify_exports = ""\n')  # list endpoints only
        command = [
            sys.executable,
            "-m",
            "loyalty.cli",
            "pull",
            "voucherify",
            "--landing",
            str(landing),
            "--base-url",
            fake.url,
            "--config",
            str(config),
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        state_file = landing / STATE_FILE
        deadline = time.monotonic() + 30
        while not (
            state_file.exists()
            and json.loads(state_file.read_text())["lists"].get("redemptions", {}).get("seq", 0) >= 5
        ):
            assert time.monotonic() < deadline and process.poll() is None, "pull never got going"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        partial = len(landed(landing, "redemptions"))
        assert 500 <= partial < 3000

        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert finished.returncode == 0, finished.stderr
        assert "pulled: redemptions" in finished.stderr
        assert fake.app_token not in finished.stderr + finished.stdout

        # A failure through the CLI: exit 1, one line naming the API's error, no traceback, no token.
        env["LOYALTY_VOUCHERIFY_APP_TOKEN"] = "wrong-" + fake.app_token
        failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert failed.returncode == 1
        assert failed.stderr.strip().splitlines()[-1] == (
            "error: Voucherify API GET /v1/redemptions page 1: HTTP 401 [401] unauthorized: Unauthorized: "
            "Cannot authenticate the request"
        )
        assert "Traceback" not in failed.stderr and fake.app_token not in failed.stderr
    ids = [r["id"] for r in landed(landing, "redemptions")]
    assert ids == [f"r_{n:05d}" for n in range(3000)]


def test_app_token_is_not_sent_to_a_download_host_outside_voucherify(fake, tmp_path):
    """Exports may be served from another host (object storage): it gets the URL token, never X-App-Token."""
    fake.download_requires_auth = False
    via_localhost = fake.url.replace("127.0.0.1", "localhost")  # downloads stay on 127.0.0.1: another host
    pull_from(fake, tmp_path / "landing", base_url=via_localhost)
    downloads = [token for path, token in fake.app_tokens_seen if path.endswith("/download")]
    api_calls = [token for path, token in fake.app_tokens_seen if not path.endswith("/download")]
    assert downloads and all(token is None for token in downloads)
    assert api_calls and all(token == fake.app_token for token in api_calls)
    assert len(export_rows(tmp_path / "landing", "redemption")) == 25


@pytest.mark.fault
def test_a_page_landed_but_not_recorded_before_a_crash_is_not_landed_twice(fake, tmp_path):
    """A crash between a page file's rename and the state save leaves a page the state does not know.

    Resuming fetches that page again under the same sequence number, so it replaces the file rather than
    landing beside it, and leftover temporary files are swept."""
    landing = tmp_path / "landing"
    fake.malformed("GET", "/v1/redemptions", skip=2)
    with pytest.raises(IngestError):
        pull_from(fake, landing, exports=[])
    folder = landing / "voucherify" / "api" / "redemptions"
    assert sorted(p.name for p in folder.iterdir()) == ["00000001.ndjson", "00000002.ndjson"]
    # What the crashed pull would have left: page 3 on disk, the state still at page 2, plus a torn temp file.
    orphan = "".join(json.dumps(r) + "\n" for r in fake.redemptions[20:30])
    (folder / "00000003.ndjson").write_text(orphan)
    (folder / ".00000004.ndjson.tmp").write_text('{"id": "r_00030", "obj')
    pull_from(fake, landing, exports=[])
    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions]
    assert not list(folder.glob(".*"))


def test_an_unreadable_state_file_is_a_clear_error_not_a_fresh_start(fake, tmp_path):
    landing = tmp_path / "landing"
    (landing / STATE_FILE).parent.mkdir(parents=True)
    (landing / STATE_FILE).write_text('{"lists": {"redemptions": ')
    with pytest.raises(IngestError, match=r"pull_state.json is unreadable .*delete it to pull everything again"):
        pull_from(fake, landing)
    assert not (landing / "voucherify" / "api").exists()


def test_microsecond_timestamps_resume_without_duplicates(fake, tmp_path):
    landing = tmp_path / "landing"
    for n, redemption in enumerate(fake.redemptions):  # 6 fractional digits, as some API records carry
        redemption["date"] = (T0 + timedelta(seconds=n // 3, microseconds=123_456)).isoformat().replace("+00:00", "Z")
    fake.malformed("GET", "/v1/redemptions", skip=4)
    with pytest.raises(IngestError):
        pull_from(fake, landing, exports=[])
    pull_from(fake, landing, exports=[])
    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions]


def pull_cli(fake: FakeVoucherify, landing: Path, config: Path, timeout: float) -> subprocess.CompletedProcess:
    """The real `loyalty pull voucherify` against the fake API (settings from the environment and `config`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    env |= {"LOYALTY_VOUCHERIFY_APP_ID": fake.app_id, "LOYALTY_VOUCHERIFY_APP_TOKEN": fake.app_token}
    command = [sys.executable, "-m", "loyalty.cli", "pull", "voucherify", "--landing", str(landing)]
    command += ["--base-url", fake.url, "--config", str(config)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.fault
def test_a_cursor_that_does_not_advance_stops_the_pull_with_a_clear_error(tmp_path):
    """The API keeps answering the same page with the same more_starting_after: the pull must not loop."""
    landing = tmp_path / "landing"
    with FakeVoucherify(loyalty_transactions={CAMPAIGN: make_transactions(450)}, stuck_cursor="vtx_00199") as fake:
        config = tmp_path / "loyalty.toml"
        config.write_text('voucherify_exports = ""\n')
        try:
            finished = pull_cli(fake, landing, config, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the pull was still paging after 60 s")
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines()[-1] == (
        f"error: Voucherify API GET /v1/loyalties/{CAMPAIGN}/transactions after vtx_00199: the cursor does not "
        "advance (more_starting_after 'vtx_00199' was already followed); stopped after 200 new objects, which are saved"
    )
    assert [t["id"] for t in landed(landing, "loyalty_transactions")] == [f"vtx_{n:05d}" for n in range(200)]


def test_pages_per_run_are_bounded_and_the_next_pull_continues(fake, tmp_path):
    landing = tmp_path / "landing"
    capped = replace(FAST, paging=replace(FAST.paging, max_pages_per_run=4))
    first = pull_from(fake, landing, exports=[], options=capped)
    assert first.list_pages == {"redemptions": 4, "loyalty_transactions": 4}
    assert first.unfinished == ["redemptions"]  # the transactions ended on their 4th page
    # 3 full pages, then 7 new on the first page of the slid window
    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions[:37]]
    while pull_from(fake, landing, exports=[], options=capped).unfinished:
        pass
    assert [r["id"] for r in landed(landing, "redemptions")] == [r["id"] for r in fake.redemptions]


@pytest.mark.fault
@pytest.mark.parametrize("fault", ["done_without_url", "gone_downloads"])
def test_an_export_without_a_file_is_created_again_and_the_pull_goes_on(tmp_path, fault):
    """DONE without a URL, or a file that answers 404: the pull used to retry the same export on every run and
    never reach redemptions or transactions. It creates a new export and carries on."""
    landing = tmp_path / "landing"
    with FakeVoucherify(
        redemptions=make_redemptions(30),
        loyalty_transactions={CAMPAIGN: make_transactions(5)},
        export_rows={"redemption": make_export_rows(5)},
        polls_per_status=0,
        **{fault: {"exp_0001"}},
    ) as fake:
        config = tmp_path / "loyalty.toml"
        config.write_text('voucherify_exports = "redemption"\nvoucherify_pull_since = "2025-01-01"\n')
        finished = pull_cli(fake, landing, config, timeout=120)
        assert finished.returncode == 0, finished.stderr
        assert [e["status"] for e in fake.exports.values()] == ["DONE", "DONE"]
    assert len(export_rows(landing, "redemption")) == 5
    assert len(landed(landing, "redemptions")) == 30 and len(landed(landing, "loyalty_transactions")) == 5
