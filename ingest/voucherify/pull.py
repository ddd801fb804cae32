"""`loyalty pull voucherify`: fetch from the Voucherify REST API into the landing folder (extract + land).

Three kinds of pull, each resumable from the state in <landing>/voucherify/_state/pull_state.json:
- Exports API, one export per exported object over a `created_at` window (customers and vouchers: a full
  snapshot, since their aggregates change): POST /v1/exports, poll until DONE or ERROR, download the CSV
  file(s) to <landing>/voucherify/exports/<object>/<window>_<export id>[_<n>].csv.
- Redemptions: GET /v1/redemptions in ascending created_at order. The API serves at most 99 pages, so the
  window's lower bound slides to the last landed redemption whenever page 99 is reached.
- Loyalty transactions per loyalty campaign: GET /v1/loyalties/{id}/transactions by cursor
  (starting_after_id; has_more + more_starting_after).
List pages land as <landing>/voucherify/api/<endpoint>/[<campaign>/]<sequence>.ndjson, one object per
line, written atomically; the state (cursor + sequence) is saved after every page.

`pull()` takes plain values (the CLI resolves settings into them) and a `PullOptions` for retries, timeouts,
export polling and paging. Credentials are never printed or logged: the HTTP client (`client.py`) scrubs the
app token and download-URL tokens from httpx's request log lines.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ingest.errors import IngestError
from ingest.landing import API_DIR, EXPORTS_DIR
from ingest.voucherify.client import ApiClient, ApiError, MalformedResponse, RetryPolicy, secrets_redacted
from ingest.voucherify.pull_state import PullState, atomic_file, pull_lock, write_atomically

EXPORT_OBJECTS = (
    "voucher",
    "redemption",
    "customer",
    "publication",
    "order",
    "points_expiration",
    "voucher_transactions",
)
# Aggregates on these rows change after creation (redemption counts, balances): export them whole every time.
SNAPSHOT_OBJECTS = {"customer", "voucher"}
# Columns we ask for; objects not listed get the API's default fields.
EXPORT_FIELDS = {
    "redemption": [
        "id",
        "object",
        "date",
        "voucher_code",
        "campaign",
        "promotion_tier_id",
        "customer_id",
        "customer_source_id",
        "customer_name",
        "tracking_id",
        "order_id",
        "order_amount",
        "gift_amount",
        "loyalty_points",
        "result",
        "failure_code",
        "failure_message",
        "metadata",
    ],
    "voucher_transactions": [
        "id",
        "campaign_id",
        "voucher_id",
        "type",
        "source_id",
        "reason",
        "source",
        "balance",
        "amount",
        "related_transaction_id",
        "created_at",
        "details",
    ],
    "order": [
        "id",
        "source_id",
        "created_at",
        "updated_at",
        "status",
        "amount",
        "discount_amount",
        "items_discount_amount",
        "total_discount_amount",
        "total_amount",
        "customer_id",
        "referrer_id",
        "metadata",
    ],
    # The vendor's publication export has no id; its default fields (code, customer_id, date, channel) lack the
    # campaign and the customer's source id.
    "publication": [
        "voucher_code",
        "customer_id",
        "customer_source_id",
        "date",
        "channel",
        "campaign",
        "is_winner",
        "metadata",
    ],
    # Card and code holders: without them, pulled loyalty transactions cannot be tied to a customer.
    "voucher": [
        "id",
        "code",
        "voucher_type",
        "campaign",
        "campaign_id",
        "customer_id",
        "customer_source_id",
        "loyalty_balance",
        "gift_balance",
        "active",
        "created_at",
        "updated_at",
        "metadata",
    ],
    "customer": [
        "id",
        "source_id",
        "name",
        "email",
        "created_at",
        "redemptions_total_succeeded",
        "redemptions_total_failed",
        "redemptions_total_rolled_back",
        "orders_total_amount",
        "orders_total_count",
        "loyalty_points",
    ],
}
MAX_PAGE = 99  # GET /v1/redemptions refuses page 100 and beyond
PAGE_LIMIT = 100
log = logging.getLogger(__name__)
# Download statuses of an export file that is gone (expired, deleted): the export is created again.
EXPORT_GONE = frozenset({403, 404, 410})
# Consecutive export windows overlap by this much: a row stamped exactly on a boundary is never lost
# whether the API treats $after/$before as inclusive or not (a duplicate is harmless, staging deduplicates).
WINDOW_OVERLAP = timedelta(seconds=1)


@dataclass
class PullReport:
    export_files: dict[str, int] = field(default_factory=dict)  # exported object -> CSV files downloaded
    export_bytes: dict[str, int] = field(default_factory=dict)
    list_objects: dict[str, int] = field(default_factory=dict)  # endpoint -> objects landed
    list_pages: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)  # lists stopped at Paging.max_pages_per_run
    export_failures: list[str] = field(default_factory=list)  # exports the pull moved on from
    requests: int = 0
    retries: int = 0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected an ISO-8601 time, got {value!r}")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{what}: not an ISO-8601 time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if moment else "beginning"


def parse_since(value: str | None) -> datetime | None:
    """The first pull's start (`voucherify_pull_since`, an ISO date or time; empty = everything)."""
    if not value:
        return None
    try:
        return _parse_time(str(value), "voucherify_pull_since")
    except ValueError as exc:
        raise IngestError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class ExportPolling:
    """How long to wait for an export: polls start `interval` s apart, growing ×1.5 up to `cap` s; after
    `timeout` s the pull stops waiting (the next pull polls the same export again)."""

    interval: float = 2.0
    cap: float = 30.0
    timeout: float = 3600.0


@dataclass(frozen=True, slots=True)
class Paging:
    """List paging: objects per page, the highest page number GET /v1/redemptions serves, and at most how many
    pages one pull lands per list (the next pull continues from the saved cursor)."""

    page_limit: int = PAGE_LIMIT
    max_page: int = MAX_PAGE
    max_pages_per_run: int = 10_000


@dataclass(frozen=True, slots=True)
class PullOptions:
    """Everything about how a pull talks to the API; the defaults are what `loyalty pull voucherify` uses."""

    retry: RetryPolicy = RetryPolicy()
    request_timeout: float = 30.0  # seconds per HTTP request
    polling: ExportPolling = ExportPolling()
    paging: Paging = Paging()
    settle_seconds: float = 60.0  # pull only what is older than this, so late writes have settled


def pull(
    landing: Path,
    *,
    app_id: str | None,
    app_token: str | None,
    base_url: str,
    exports: Sequence[str] = (),
    since: datetime | None = None,
    loyalty_campaigns: Sequence[str] = (),
    options: PullOptions = PullOptions(),
    console: Console | None = None,
) -> PullReport:
    """Pull `exports` (exported objects), redemptions and the loyalty transactions of `loyalty_campaigns` (empty:
    every LOYALTY_PROGRAM campaign) into `landing`; resumable, incremental, one line on failure."""
    if not app_id or not app_token:
        raise IngestError(
            "Voucherify credentials missing: set LOYALTY_VOUCHERIFY_APP_ID and LOYALTY_VOUCHERIFY_APP_TOKEN "
            "(or voucherify_app_id / voucherify_app_token in loyalty.toml)"
        )
    if not base_url or urlsplit(str(base_url)).scheme not in {"http", "https"}:
        raise IngestError(f"Voucherify base URL must be http(s)://…, got {base_url!r}")
    unknown = sorted(set(exports) - set(EXPORT_OBJECTS))
    if unknown:
        raise IngestError(f"unknown exported object(s) {', '.join(unknown)}; known: {', '.join(EXPORT_OBJECTS)}")

    landing = Path(landing)
    until = datetime.now(UTC) - timedelta(seconds=options.settle_seconds)  # let late writes settle
    report = PullReport()
    console = console or Console(stderr=True)
    client = ApiClient(
        str(base_url), str(app_id), str(app_token), policy=options.retry, timeout=options.request_timeout
    )
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with pull_lock(landing), secrets_redacted([str(app_token)]), progress:
            state = PullState(landing)
            context = _Pull(client, state, landing, report, progress, until, since, options.paging, options.polling)
            for exported_object in exports:
                context.export(exported_object)
            context.redemptions()
            for campaign_id in loyalty_campaigns or context.loyalty_campaigns():
                context.loyalty_transactions(campaign_id)
    finally:
        report.requests, report.retries = client.requests, client.retries
        client.close()
    console.print(_summary(report))
    if report.export_failures:
        raise IngestError("; ".join(report.export_failures))
    return report


def _summary(report: PullReport) -> str:
    parts = [
        f"{name} {count} file(s) {report.export_bytes.get(name, 0):,} bytes"
        for name, count in report.export_files.items()
    ]
    parts += [
        f"{name} {count} new in {report.list_pages.get(name, 0)} page(s)" for name, count in report.list_objects.items()
    ]
    unfinished = (
        f"; page limit reached for {', '.join(report.unfinished)}: the next pull continues" if report.unfinished else ""
    )
    return f"pulled: {', '.join(parts) or 'nothing'} ({report.requests} requests, {report.retries} retries){unfinished}"


@dataclass
class _Pull:
    client: ApiClient
    state: PullState
    landing: Path
    report: PullReport
    progress: Progress
    until: datetime
    since: datetime | None
    paging: Paging
    polling: ExportPolling

    # ---- Exports API -------------------------------------------------------------------------------
    def export(self, exported_object: str) -> None:
        """One export of `exported_object`, downloaded. An export that cannot be used (it ended in ERROR, is DONE
        without a file, or its file is gone) is forgotten and created once more at once; if that fails too, or
        the export is not ready in time, the pull moves on (to the next objects and the lists) and fails at the
        end naming it, so one bad export never keeps redemptions and transactions from being pulled."""
        task = self.progress.add_task(f"export {exported_object}", detail="")
        for attempt in (1, 2):
            try:
                self._export(exported_object, task)
                return
            except _ExportUnusable as exc:
                saved = self.state.get("exports", exported_object)
                saved.pop("pending", None)
                self.state.put("exports", exported_object, saved)
                if attempt == 2:
                    self.report.export_failures.append(f"{exc}; the next pull creates a new one")
                    return
                log.warning("%s; creating a new export", exc)
                self.progress.update(task, detail="unusable, creating a new export")
            except _ExportNotReady as exc:
                self.report.export_failures.append(str(exc))
                return

    def _export(self, exported_object: str, task) -> None:
        saved = self.state.get("exports", exported_object)
        pending = saved.get("pending")
        if not pending:
            after = None
            if exported_object not in SNAPSHOT_OBJECTS:
                done_before = saved.get("done_before")
                after = _parse_time(done_before, "state") - WINDOW_OVERLAP if done_before else self.since
            before = self.until
            if after is not None and after >= before:
                self.progress.update(task, detail="up to date")
                return
            filters: dict[str, Any] = {"junction": "and"}
            if exported_object not in SNAPSHOT_OBJECTS:
                conditions = {"$before": [_iso(before)]}
                if after is not None:
                    conditions["$after"] = [_iso(after)]
                filters["created_at"] = {"conditions": conditions}
            parameters: dict[str, Any] = {"filters": filters}
            if exported_object in EXPORT_FIELDS:
                parameters["fields"] = EXPORT_FIELDS[exported_object]
            created = self.client.post_json(
                "/v1/exports", {"exported_object": exported_object, "parameters": parameters}
            )
            if not isinstance(created, dict) or not isinstance(created.get("id"), str):
                raise MalformedResponse("POST /v1/exports", "no export id")
            pending = {"id": created["id"], "after": _iso(after) if after else None, "before": _iso(before)}
            # Saved before polling: an interrupted pull polls this export again instead of creating another.
            saved["pending"] = pending
            self.state.put("exports", exported_object, saved)

        export_id = pending["id"]
        export = self._wait_for_export(exported_object, export_id, task)
        urls = _export_urls(export)
        if not urls:
            raise _ExportUnusable(f"Voucherify export {export_id} ({exported_object}) is DONE without a file URL")
        window = f"{_stamp(_parse_time(pending['after'], 'state') if pending.get('after') else None)}-" + _stamp(
            _parse_time(pending["before"], "state")
        )
        folder = self.landing / EXPORTS_DIR / exported_object
        for number, url in enumerate(urls, start=1):
            self.progress.update(task, detail=f"downloading file {number}/{len(urls)}")
            suffix = f"_{number}" if len(urls) > 1 else ""
            try:
                size = self._download(
                    url, folder / f"{window}_{export_id}{suffix}.csv", f"GET /v1/exports/{export_id} file {number}"
                )
            except ApiError as exc:
                if exc.status not in EXPORT_GONE:
                    raise
                raise _ExportUnusable(
                    f"Voucherify export {export_id} ({exported_object}): file {number} answers HTTP {exc.status}"
                ) from exc
            self.report.export_bytes[exported_object] = self.report.export_bytes.get(exported_object, 0) + size
        self.report.export_files[exported_object] = self.report.export_files.get(exported_object, 0) + len(urls)
        done = {} if exported_object in SNAPSHOT_OBJECTS else {"done_before": pending["before"]}
        self.state.put("exports", exported_object, done)
        self.progress.update(task, detail=f"{len(urls)} file(s) downloaded")

    def _wait_for_export(self, exported_object: str, export_id: str, task) -> dict:
        what = f"GET /v1/exports/{export_id}"
        deadline = time.monotonic() + self.polling.timeout
        delay = self.polling.interval
        while True:
            export = self.client.get_json(f"/v1/exports/{export_id}", what=what)
            status = export.get("status") if isinstance(export, dict) else None
            self.progress.update(task, detail=str(status))
            if status == "DONE":
                return export
            if status == "ERROR":
                result = export.get("result")
                reason = (result.get("message") or result.get("error")) if isinstance(result, dict) else result
                raise _ExportUnusable(
                    f"Voucherify export {export_id} ({exported_object}) ended in ERROR: {reason or 'no reason given'}"
                )
            if status not in {"SCHEDULED", "IN_PROGRESS"}:
                raise MalformedResponse(what, f"unknown export status {status!r}")
            if time.monotonic() + delay > deadline:
                raise _ExportNotReady(
                    f"Voucherify export {export_id} ({exported_object}) still {status} after "
                    f"{self.polling.timeout:.0f} s; the next pull resumes waiting for it"
                )
            self.client.sleep(delay)
            delay = min(delay * 1.5, self.polling.cap)

    def _download(self, url: str, dest: Path, what: str) -> int:
        for _ in range(5):  # follow redirects here, so the app token is re-decided for every host
            response = self.client.request("GET", url, what=what, stream=True)
            if not response.is_redirect:
                break
            url = urljoin(url, response.headers["location"])
            response.close()
        else:
            raise IngestError(f"Voucherify API {what}: too many redirects")
        size = 0
        try:
            with atomic_file(dest) as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
                    size += len(chunk)
                if size == 0:
                    raise MalformedResponse(what, "empty CSV file")
        except httpx.HTTPError as exc:
            raise IngestError(
                f"Voucherify API {what}: download interrupted ({type(exc).__name__}); the next pull retries it"
            ) from exc
        finally:
            response.close()
        return size

    # ---- Redemptions: sliding created_at window ---------------------------------------------------
    def redemptions(self) -> None:
        key = "redemptions"
        task = self.progress.add_task("redemptions", detail="")
        saved = self.state.get("lists", key)
        writer = _PageWriter(self.landing / API_DIR / "redemptions", saved.get("seq", 0))
        cursor = _parse_time(saved["cursor_date"], "state") if saved.get("cursor_date") else None
        cursor_ids = set(saved.get("cursor_ids", []))
        window_start = cursor or self.since
        page = 1
        landed = fetched = 0
        while True:
            fetched += 1
            what = f"GET /v1/redemptions page {page}"
            params: dict[str, Any] = {"limit": self.paging.page_limit, "page": page, "order": "created_at"}
            params["created_at[before]"] = _iso(self.until)
            if window_start is not None:
                # Slightly before the cursor: redemptions sharing its timestamp are fetched again and skipped by id.
                params["created_at[after]"] = _iso(window_start - timedelta(milliseconds=1))
            items = _list_items(self.client.get_json("/v1/redemptions", params=params, what=what), what)
            fresh: list[dict] = []
            previous = None
            for item in items:
                try:
                    stamp = _parse_time(item.get("created_at") or item.get("date"), f"redemption {item.get('id')}")
                except ValueError as exc:
                    raise MalformedResponse(what, str(exc)) from exc
                if previous is not None and stamp < previous:
                    raise MalformedResponse(what, "redemptions not in ascending created_at order")
                previous = stamp
                if cursor is not None and (stamp < cursor or (stamp == cursor and item["id"] in cursor_ids)):
                    continue
                fresh.append(item)
                cursor_ids = cursor_ids | {item["id"]} if stamp == cursor else {item["id"]}
                cursor = stamp
            if fresh:
                writer.write(fresh)
                landed += len(fresh)
                # Full precision: a cursor rounded to milliseconds would let microsecond-stamped ones land twice.
                cursor_date = cursor.astimezone(UTC).isoformat()
                self.state.put(
                    "lists", key, {"seq": writer.seq, "cursor_date": cursor_date, "cursor_ids": sorted(cursor_ids)}
                )
            self.progress.update(task, detail=f"{landed} new")
            if len(items) < self.paging.page_limit:
                break
            if fetched >= self.paging.max_pages_per_run:
                self.report.unfinished.append(key)
                break
            if page >= self.paging.max_page:
                if cursor == window_start:
                    raise IngestError(
                        f"more than {self.paging.max_page * self.paging.page_limit} redemptions share created_at "
                        f"{_iso(cursor)}; the API cannot page past them"
                    )
                window_start, page = cursor, 1  # slide the window instead of asking for page 100
            else:
                page += 1
        self._count(key, landed, writer)

    # ---- Loyalty transactions: cursor per campaign --------------------------------------------------
    def loyalty_campaigns(self) -> list[str]:
        campaign_ids: list[str] = []
        for page in range(1, self.paging.max_page + 1):
            what = f"GET /v1/campaigns page {page}"
            params = {"campaign_type": "LOYALTY_PROGRAM", "limit": self.paging.page_limit, "page": page}
            items = _list_items(self.client.get_json("/v1/campaigns", params=params, what=what), what)
            campaign_ids += [item["id"] for item in items]
            if len(items) < self.paging.page_limit:
                break
        return campaign_ids

    def loyalty_transactions(self, campaign_id: str) -> None:
        key = f"loyalty_transactions/{campaign_id}"
        task = self.progress.add_task(f"loyalty transactions {campaign_id}", detail="")
        saved = self.state.get("lists", key)
        writer = _PageWriter(self.landing / API_DIR / "loyalty_transactions" / campaign_id, saved.get("seq", 0))
        starting_after = saved.get("starting_after_id")
        cursors_seen = {starting_after}
        landed = fetched = 0
        while True:
            fetched += 1
            what = f"GET /v1/loyalties/{campaign_id}/transactions after {starting_after or 'start'}"
            params: dict[str, Any] = {"limit": self.paging.page_limit}
            if starting_after:
                params["starting_after_id"] = starting_after
            body = self.client.get_json(f"/v1/loyalties/{campaign_id}/transactions", params=params, what=what)
            items = _list_items(body, what)
            has_more = body.get("has_more", False)
            if not isinstance(has_more, bool) or (has_more and not items):
                raise MalformedResponse(what, f"has_more={has_more!r} with {len(items)} item(s)")
            if not items:
                break
            next_cursor = body.get("more_starting_after") or items[-1]["id"]
            if has_more and next_cursor in cursors_seen:
                # The API would answer a page it already sent, forever: stop before landing it again.
                raise IngestError(
                    f"Voucherify API {what}: the cursor does not advance (more_starting_after {next_cursor!r} was "
                    f"already followed); stopped after {landed} new objects, which are saved"
                )
            writer.write(items)
            landed += len(items)
            starting_after = next_cursor
            cursors_seen.add(starting_after)
            self.state.put("lists", key, {"seq": writer.seq, "starting_after_id": starting_after})
            self.progress.update(task, detail=f"{landed} new")
            if not has_more:
                break
            if fetched >= self.paging.max_pages_per_run:
                self.report.unfinished.append(key)
                break
        self._count("loyalty_transactions", landed, writer)

    def _count(self, endpoint: str, landed: int, writer: _PageWriter) -> None:
        self.report.list_objects[endpoint] = self.report.list_objects.get(endpoint, 0) + landed
        self.report.list_pages[endpoint] = self.report.list_pages.get(endpoint, 0) + writer.pages


def _list_items(body: Any, what: str) -> list[dict]:
    """The objects of a list envelope {object: "list", data_ref: <key>, <key>: [...]}, each with an id."""
    if not isinstance(body, dict):
        raise MalformedResponse(what, "not a JSON object")
    data_ref = body.get("data_ref")
    items = body.get(data_ref) if isinstance(data_ref, str) else None
    if not isinstance(items, list):
        raise MalformedResponse(what, f"no list under data_ref {data_ref!r}")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise MalformedResponse(what, f"an item without an id: {str(item)[:80]}")
    return items


def _export_urls(export: dict) -> list[str]:
    """result.url (one file), or result.urls / a list in result.url when Voucherify splits a large export;
    empty when a DONE export names no file."""
    result = export.get("result")
    urls: Any = None
    if isinstance(result, dict):
        urls = result.get("urls") or result.get("url")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(url, str) and url for url in urls):
        return []
    return urls


class _ExportUnusable(Exception):
    """This export will never give its file (ERROR, DONE without a file, the file gone): create another."""


class _ExportNotReady(Exception):
    """Still being prepared when the pull stopped waiting: the next pull polls it again."""


class _PageWriter:
    """One NDJSON file per landed page, numbered by a sequence the pull state commits after each page."""

    def __init__(self, folder: Path, committed_seq: int):
        self.folder = folder
        self.seq = committed_seq
        self.pages = 0
        if folder.exists():
            # A crash after a page's rename but before the state save leaves a page the state does not know;
            # it is fetched again, so drop it rather than land it twice.
            for path in folder.glob("[0-9]*.ndjson"):
                if path.stem.isdigit() and int(path.stem) > committed_seq:
                    path.unlink()
            for path in folder.glob(".*.tmp"):
                path.unlink()

    def write(self, objects: list[dict]) -> Path:
        self.seq += 1
        self.pages += 1
        path = self.folder / f"{self.seq:08d}.ndjson"
        lines = (json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n" for item in objects)
        write_atomically(path, "".join(lines).encode("utf-8"))
        return path
