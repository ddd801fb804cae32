"""A real HTTP server on loopback that behaves like the documented Voucherify REST API (docs/formats.md §2).

It implements what `loyalty pull voucherify` relies on: X-App-Id / X-App-Token auth with the API's
{code, key, message, details} errors, GET /v1/redemptions (page ≤ max_page, limit ≤ 100, created_at
window, order), GET /v1/campaigns, GET /v1/loyalties/{id}/transactions (starting_after_id cursor, has_more +
more_starting_after), and the Exports API lifecycle SCHEDULED → IN_PROGRESS → DONE | ERROR with CSV
downloads that need the URL token and the auth headers. Faults are scripted per path: HTTP statuses (429 with
Retry-After, 5xx bursts), malformed bodies and slow answers; and per behaviour: a cursor that stops advancing,
an export DONE without a file, an export whose file is gone.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_http import ApiError, Fault, LoopbackApi


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class FakeVoucherify(LoopbackApi):
    app_id: str = "app-id-test"
    app_token: str = "app-token-SECRET-9b1f2c"
    redemptions: list[dict] = field(default_factory=list)
    loyalty_transactions: dict[str, list[dict]] = field(default_factory=dict)  # campaign id -> transactions
    other_campaigns: list[dict] = field(default_factory=list)
    export_rows: dict[str, list[dict]] = field(default_factory=dict)  # exported_object -> rows with created_at
    export_failures: set[str] = field(default_factory=set)  # exported objects whose export ends in ERROR
    done_without_url: set[str] = field(default_factory=set)  # export ids that end DONE naming no file
    gone_downloads: set[str] = field(default_factory=set)  # export ids whose file downloads answer 404
    rows_per_file: int = 1000  # larger exports come as several files
    max_page: int = 99
    polls_per_status: int = 1  # GETs that see SCHEDULED, then IN_PROGRESS, before DONE
    page_delay: float = 0.0  # seconds added to every list page (to kill a pull mid-way)
    stuck_cursor: str | None = None  # a transaction id after which the list answers more_starting_after = that id
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    app_tokens_seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, X-App-Token sent)
    download_requires_auth: bool = True  # False: a download host that only checks the URL token
    exports: dict[str, dict] = field(default_factory=dict)
    url: str = ""

    # ---- scripting -----------------------------------------------------------------------------------
    def malformed(
        self, method: str, path_prefix: str, body: bytes = b'{"object":"list","data_ref":"red', skip: int = 0
    ) -> None:
        self.faults.append(Fault(method, path_prefix, 200, body=body, skip=skip))

    def calls(self, method: str, path_prefix: str) -> list[dict]:
        return [query for m, path, query in self.requests if m == method and path.startswith(path_prefix)]

    # ---- HTTP ----------------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        length = int(handler.headers.get("content-length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, parts.path, query))
            self.app_tokens_seen.append((parts.path, handler.headers.get("X-App-Token")))
            fault = self._take_fault(method, parts.path)
        if fault and fault.delay:
            time.sleep(fault.delay)
        elif fault and fault.body is not None:
            return self._send(handler, 200, fault.body)
        elif fault:
            return self._scripted_error(handler, fault)
        anonymous_download = not self.download_requires_auth and parts.path.endswith("/download")
        if not anonymous_download and not self._authorized(handler):
            return self._unauthorized(handler)
        try:
            status, body, content_type = self._route(method, parts.path, query, raw_body)
        except ApiError as exc:
            return self._error(handler, exc.status, exc.key, exc.message, exc.details)
        self._send(handler, status, body, {"Content-Type": content_type})

    def _route(self, method: str, path: str, query: dict, raw_body: bytes) -> tuple[int, bytes, str]:
        segments = path.strip("/").split("/")
        if method == "GET" and path == "/v1/redemptions":
            time.sleep(self.page_delay)
            return self._json(self._list_redemptions(query))
        if method == "GET" and path == "/v1/campaigns":
            return self._json(self._list_campaigns(query))
        if (
            method == "GET"
            and len(segments) == 4
            and segments[:2] == ["v1", "loyalties"]
            and segments[3] == "transactions"
        ):
            return self._json(self._list_transactions(segments[2], query))
        if method == "POST" and path == "/v1/exports":
            return self._json(self._create_export(json.loads(raw_body)))
        if method == "GET" and len(segments) == 3 and segments[:2] == ["v1", "exports"]:
            return self._json(self._poll_export(segments[2]))
        if method == "GET" and len(segments) == 4 and segments[:2] == ["v1", "exports"] and segments[3] == "download":
            return 200, self._download(segments[2], query), "text/csv"
        raise ApiError(404, "not_found", "Resource not found", f"no route {method} {path}")

    @staticmethod
    def _json(body: dict) -> tuple[int, bytes, str]:
        return 200, json.dumps(body).encode(), "application/json"

    @staticmethod
    def _int(query: dict, name: str, default: int) -> int:
        try:
            return int(query.get(name, default))
        except ValueError:
            raise ApiError(400, "invalid_query_params", "Invalid query params", f"{name} must be an integer") from None

    def _list_redemptions(self, query: dict) -> dict:
        limit, page = self._int(query, "limit", 10), self._int(query, "page", 1)
        if not 1 <= limit <= 100:
            raise ApiError(400, "invalid_query_params", "Invalid query params", "limit must be between 1 and 100")
        if not 1 <= page <= self.max_page:
            raise ApiError(
                400, "invalid_query_params", "Invalid query params", f"page must be between 1 and {self.max_page}"
            )
        rows = sorted(self.redemptions, key=lambda r: (r["date"], r["id"]), reverse=query.get("order") != "created_at")
        if "created_at[after]" in query:  # both bounds exclusive, the strictest reading
            rows = [r for r in rows if parse_time(r["date"]) > parse_time(query["created_at[after]"])]
        if "created_at[before]" in query:
            rows = [r for r in rows if parse_time(r["date"]) < parse_time(query["created_at[before]"])]
        chunk = rows[(page - 1) * limit : page * limit]
        return {"object": "list", "data_ref": "redemptions", "redemptions": chunk, "total": len(rows)}

    def _list_campaigns(self, query: dict) -> dict:
        limit, page = self._int(query, "limit", 10), self._int(query, "page", 1)
        loyalty = [
            {"id": cid, "object": "campaign", "campaign_type": "LOYALTY_PROGRAM"} for cid in self.loyalty_transactions
        ]
        campaigns = [
            c
            for c in loyalty + self.other_campaigns
            if c["campaign_type"] == query.get("campaign_type", c["campaign_type"])
        ]
        chunk = campaigns[(page - 1) * limit : page * limit]
        return {"object": "list", "data_ref": "campaigns", "campaigns": chunk, "total": len(campaigns)}

    def _list_transactions(self, campaign_id: str, query: dict) -> dict:
        if campaign_id not in self.loyalty_transactions:
            raise ApiError(404, "not_found", "Resource not found", f"Cannot find campaign with id {campaign_id}")
        limit = self._int(query, "limit", 10)
        if not 1 <= limit <= 100:
            raise ApiError(400, "invalid_query_params", "Invalid query params", "limit must be between 1 and 100")
        rows = self.loyalty_transactions[campaign_id]
        start = 0
        if "starting_after_id" in query:
            ids = [row["id"] for row in rows]
            if query["starting_after_id"] not in ids:
                raise ApiError(400, "invalid_cursor", "Invalid cursor", "starting_after_id not found")
            start = ids.index(query["starting_after_id"]) + 1
        chunk = rows[start : start + limit]
        has_more = start + limit < len(rows)
        body: dict[str, Any] = {"object": "list", "data_ref": "data", "data": chunk, "has_more": has_more}
        if has_more:
            body["more_starting_after"] = chunk[-1]["id"]
        if self.stuck_cursor is not None and query.get("starting_after_id") == self.stuck_cursor:
            body["has_more"], body["more_starting_after"] = True, self.stuck_cursor
        return body

    def _create_export(self, request: dict) -> dict:
        exported_object = request.get("exported_object")
        if exported_object not in {
            "voucher",
            "redemption",
            "customer",
            "publication",
            "order",
            "points_expiration",
            "voucher_transactions",
        }:
            raise ApiError(400, "invalid_export", "Invalid export", f"unknown exported_object {exported_object!r}")
        export_id = f"exp_{len(self.exports) + 1:04d}"
        self.exports[export_id] = {
            "id": export_id,
            "object": "export",
            "status": "SCHEDULED",
            "channel": "API",
            "exported_object": exported_object,
            "parameters": request.get("parameters", {}),
            "result": None,
            "token": f"dl-token-{export_id}-SECRET",
            "polls": 0,
        }
        return self._public(self.exports[export_id])

    def _poll_export(self, export_id: str) -> dict:
        export = self.exports.get(export_id)
        if export is None:
            raise ApiError(404, "not_found", "Resource not found", f"Cannot find export with id {export_id}")
        export["polls"] += 1
        if export["polls"] > self.polls_per_status:
            export["status"] = "IN_PROGRESS"
        if export["polls"] > 2 * self.polls_per_status:
            if export["exported_object"] in self.export_failures:
                export["status"], export["result"] = "ERROR", {"message": "Export generation failed"}
            else:
                files = max(1, -(-len(self._export_rows(export)) // self.rows_per_file))
                urls = [
                    f"{self.url}/v1/exports/{export_id}/download?token={export['token']}&part={n}" for n in range(files)
                ]
                export["status"] = "DONE"
                export["result"] = {"url": urls[0]} if files == 1 else {"url": urls[0], "urls": urls}
                if export_id in self.done_without_url:
                    export["result"] = {}
        return self._public(export)

    @staticmethod
    def _public(export: dict) -> dict:
        return {key: value for key, value in export.items() if key not in {"token", "polls"}}

    def _export_rows(self, export: dict) -> list[dict]:
        rows = self.export_rows.get(export["exported_object"], [])
        conditions = export["parameters"].get("filters", {}).get("created_at", {}).get("conditions", {})
        if "$after" in conditions:
            rows = [r for r in rows if parse_time(r["created_at"]) > parse_time(conditions["$after"][0])]
        if "$before" in conditions:
            rows = [r for r in rows if parse_time(r["created_at"]) < parse_time(conditions["$before"][0])]
        return rows

    def _download(self, export_id: str, query: dict) -> bytes:
        export = self.exports.get(export_id)
        if export is None or export["status"] != "DONE" or export_id in self.gone_downloads:
            raise ApiError(404, "not_found", "Resource not found", f"no finished export {export_id}")
        if query.get("token") != export["token"]:
            raise ApiError(401, "unauthorized", "Unauthorized", "invalid download token")
        part = self._int(query, "part", 0)
        rows = self._export_rows(export)[part * self.rows_per_file : (part + 1) * self.rows_per_file]
        columns = (
            list(self.export_rows[export["exported_object"]][0])
            if self.export_rows.get(export["exported_object"])
            else ["id"]
        )
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")
