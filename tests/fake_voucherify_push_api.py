"""A real HTTP server on loopback that behaves like the Voucherify endpoints `loyalty push voucherify` calls.

Shapes follow the Voucherify API reference: X-App-Id / X-App-Token auth and {code, key, message, details,
request_id} errors; POST /v1/customers/bulk/async (an array of customer bodies, 413 over 10 MB, 202
{async_action_id}); GET /v1/async-actions/{id} (ENQUEUED → IN_PROGRESS → DONE | FAILED, a DONE
CUSTOMERS.BULK_UPDATE result with done_count, failed_count, reports and errors naming each failed source_id);
GET /v1/metadata-schemas/customer (404 when the project has none); POST /v1/publications (a repeated source_id
gives back the publication it named, or 400 duplicate_source_id; ?join_once=true gives a customer's one
publication again; an unknown campaign is 404) and GET /v1/publications?source_id=….

Scripted trouble: faults per path (429 with Retry-After, 5xx, answers that come late after the request was
carried out), customers whose update fails,
async actions that end FAILED, and hooks that run after a publication is made or an action is polled but
before the answer goes out (to kill the client right between the call and its record).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_http import ApiError, Fault, LoopbackApi

MAX_BODY = 10_485_760


@dataclass
class FakeVoucherifyPush(LoopbackApi):
    app_id: str = "push-app-id"
    app_token: str = "push-app-token-SECRET-51c3"
    campaigns: dict[str, str] = field(
        default_factory=lambda: {"Third Store Thank You": "THIRD", "Tier Upgrade Gift": "TIER"}
    )  # campaign name -> code prefix; publishing from any other campaign is 404
    customer_schema: dict | None = None  # what GET /v1/metadata-schemas/customer answers; None: 404
    schema_status: int | None = None  # answer the schema request with this error status instead (e.g. 403)
    duplicate_source_id: str = "same"  # "same": the publication the source_id named again; "error": 400
    failing_customers: dict[str, str] = field(default_factory=dict)  # source_id -> reason its update fails
    failing_actions: int = 0  # the next this many async actions end FAILED
    polls_per_status: int = 1  # GETs that see ENQUEUED, then IN_PROGRESS, before the action is finished
    faults: list[Fault] = field(default_factory=list)
    after_publication: Callable[[dict], None] | None = None  # runs before the answer to a new publication
    after_poll: Callable[[str], None] | None = None  # runs before the answer to an async action poll
    # What happened:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # source_id -> metadata
    metadata_updates: list[tuple[str, dict]] = field(default_factory=list)  # (source_id, metadata) applied
    async_actions: dict[str, dict] = field(default_factory=dict)
    publications: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str, dict, Any]] = field(default_factory=list)  # (method, path, query, body)
    url: str = ""

    # ---- scripting and inspection --------------------------------------------------------------------
    def calls(self, method: str, path_prefix: str) -> list[tuple[dict, Any]]:
        return [(query, body) for m, path, query, body in self.requests if m == method and path.startswith(path_prefix)]

    def publications_per_reward(self) -> dict[tuple[str, str], int]:
        """(campaign, customer source_id) -> publications made."""
        counts: dict[tuple[str, str], int] = {}
        for publication in self.publications:
            key = (publication["voucher"]["campaign"], publication["customer"]["source_id"])
            counts[key] = counts.get(key, 0) + 1
        return counts

    # ---- HTTP ----------------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        with self._lock:
            self.requests.append((method, parts.path, query, body))
            fault = self._take_fault(method, parts.path)
        try:
            if fault and not fault.delay:
                return self._scripted_error(handler, fault)
            if not self._authorized(handler):
                return self._unauthorized(handler)
            if length > MAX_BODY:
                too_large = {
                    "statusCode": 413,
                    "error": "Request Entity Too Large",
                    "message": f"Payload content length greater than maximum allowed: {MAX_BODY}",
                }
                return self._send(handler, 413, json.dumps(too_large).encode())
            try:
                status, answer, after = self._route(method, parts.path, query, body)
            except ApiError as exc:
                return self._error(handler, exc.status, exc.key, exc.message, exc.details)
            if after:
                after()
            if fault:
                time.sleep(fault.delay)  # a slow answer: the request was carried out, the reply comes late
            self._send(handler, status, json.dumps(answer).encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed while we answered

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any, Callable | None]:
        segments = path.strip("/").split("/")
        with self._lock:
            if method == "POST" and path == "/v1/customers/bulk/async":
                return 202, self._bulk_update(body), None
            if method == "GET" and segments[:2] == ["v1", "async-actions"] and len(segments) == 3:
                action = self._poll(segments[2])
                return 200, action, (lambda: self.after_poll(segments[2])) if self.after_poll else None
            if method == "GET" and path == "/v1/metadata-schemas/customer":
                return 200, self._customer_schema(), None
            if method == "POST" and path == "/v1/publications":
                return self._publish(query, body)
            if method == "GET" and path == "/v1/publications":
                found = [p for p in self.publications if query.get("source_id") in (None, p["source_id"])]
                return (
                    200,
                    {"object": "list", "data_ref": "publications", "publications": found, "total": len(found)},
                    None,
                )
        raise ApiError(404, "not_found", "Resource not found", f"no route {method} {path}")

    # ---- customers -----------------------------------------------------------------------------------
    def _bulk_update(self, body: Any) -> dict:
        if not isinstance(body, list) or not all(isinstance(c, dict) and c.get("source_id") for c in body):
            raise ApiError(400, "invalid_payload", "Invalid payload", "an array of customers with source_id")
        action_id = f"aa_{len(self.async_actions) + 1:06d}"
        self.async_actions[action_id] = {
            "id": action_id,
            "type": "CUSTOMERS.BULK_UPDATE",
            "status": "ENQUEUED",
            "created_at": _now(),
            "request_id": f"v-{action_id}",
            "progress": 0,
            "object": "async_action",
            "_customers": body,
            "_polls": 0,
        }
        return {"async_action_id": action_id}

    def _poll(self, action_id: str) -> dict:
        action = self.async_actions.get(action_id)
        if action is None:
            raise ApiError(404, "not_found", "Resource not found", f"Cannot find async_action with id {action_id}")
        action["_polls"] += 1
        if action["status"] == "ENQUEUED" and action["_polls"] > self.polls_per_status:
            action["status"] = "IN_PROGRESS"
        elif action["status"] == "IN_PROGRESS" and action["_polls"] > 2 * self.polls_per_status:
            self._finish(action)
        return {key: value for key, value in action.items() if not key.startswith("_")}

    def _finish(self, action: dict) -> None:
        action["progress"], action["updated_at"] = 100, _now()
        if self.failing_actions:
            self.failing_actions -= 1
            action["status"], action["operation_status"] = "FAILED", "FAILED"
            action["result"] = {"message": "Processing failed, please try again"}
            return
        errors = []
        for customer in action["_customers"]:
            source_id, metadata = customer["source_id"], customer.get("metadata") or {}
            problem = self.failing_customers.get(source_id) or self._schema_problem(metadata)
            if problem:
                key, message, details = problem if isinstance(problem, tuple) else ("error", problem, problem)
                errors.append({"message": message, "details": details, "key": key, "source_id": source_id})
                continue
            self.customers.setdefault(source_id, {}).update(metadata)  # keys not sent are left unchanged
            self.metadata_updates.append((source_id, metadata))
        action["status"], action["operation_status"] = "DONE", "SUCCESS"
        action["result"] = {
            "done_count": len(action["_customers"]) - len(errors),
            "failed_count": len(errors),
            "reports": [f"{self.url}/reports/{action['id']}.csv"],
            "reports_available_till": "2099-01-01T00:00:00.000Z",
            "errors": errors,
        }

    def _schema_problem(self, metadata: dict) -> tuple[str, str, str] | None:
        schema = self.customer_schema
        if not schema:
            return None
        properties = schema.get("properties") or {}
        problems = []
        for key, value in metadata.items():
            definition = properties.get(key)
            if definition is None or definition.get("deleted"):
                if schema.get("allow_defined_only"):
                    problems.append(f"{key}: property is not defined (actual value is '{value}')")
                continue
            expected = {"number": (int, float), "boolean": (bool,), "string": (str,)}.get(definition["type"], (object,))
            if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
                problems.append(f"{key}: must be a {definition['type']} (actual value is '{value}')")
        if problems:
            return "metadata_validation_failed", "Metadata validation failed", "; ".join(problems)
        return None

    def _customer_schema(self) -> dict:
        if self.schema_status:
            raise ApiError(self.schema_status, "forbidden", "Forbidden", "Missing permissions")
        if self.customer_schema is None:
            raise ApiError(404, "not_found", "Resource not found", "Cannot find metadata_schema with id customer")
        return {"id": "ms_customer", "related_object": "customer", "object": "metadata_schema", **self.customer_schema}

    # ---- publications --------------------------------------------------------------------------------
    def _publish(self, query: dict, body: Any) -> tuple[int, dict, Callable | None]:
        if not isinstance(body, dict) or not isinstance(body.get("customer"), dict):
            raise ApiError(400, "invalid_payload", "Invalid payload", "customer is required")
        campaign = body.get("campaign", {}).get("name") if isinstance(body.get("campaign"), dict) else None
        customer = body["customer"].get("source_id")
        if campaign not in self.campaigns:
            raise ApiError(404, "not_found", "Resource not found", f"Cannot find campaign with id {campaign}")
        source_id = body.get("source_id")
        if source_id is not None:
            earlier = next((p for p in self.publications if p["source_id"] == source_id), None)
            if earlier and self.duplicate_source_id == "error":
                raise ApiError(
                    400,
                    "duplicate_source_id",
                    "Duplicate source_id",
                    f"Publication with source_id: '{source_id}' already exists",
                )
            if earlier:
                return 200, earlier, None
        if query.get("join_once") == "true":
            earlier = next(
                (
                    p
                    for p in self.publications
                    if (p["voucher"]["campaign"], p["customer"]["source_id"]) == (campaign, customer)
                ),
                None,
            )
            if earlier:
                return 200, earlier, None
        number = len(self.publications) + 1
        publication = {
            "id": f"pub_{number:06d}",
            "object": "publication",
            "created_at": _now(),
            "customer_id": f"cust_{customer}",
            "tracking_id": customer,
            "metadata": {},
            "channel": body.get("channel") or "API",
            "source_id": source_id,
            "result": "SUCCESS",
            "customer": {"id": f"cust_{customer}", "source_id": customer, "object": "customer"},
            "vouchers_id": [f"v_{number:06d}"],
            "voucher": {"code": f"{self.campaigns[campaign]}-{number:04d}", "object": "voucher", "campaign": campaign},
        }
        self.publications.append(publication)
        hook = self.after_publication
        return 200, publication, (lambda: hook(publication)) if hook else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
