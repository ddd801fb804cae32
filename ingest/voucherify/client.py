"""An HTTP client for Voucherify's REST API: auth headers, retries and secret-free errors and logs.

5xx, timeouts and connection errors are retried with jittered exponential back-off; 429 waits the API's
Retry-After (up to a cap). Other 4xx fail at once with the API's own error (`{code, key, message, details}`).
Both `loyalty pull` and anything else that calls the API use this one client.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ingest.errors import IngestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """5xx, timeouts and connection errors: jittered exponential back-off; 429: the API's Retry-After."""

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_retry_after: float = 300.0

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # jitter so parallel pullers do not retry in lockstep


class ApiClient:
    """httpx with Voucherify's auth headers, retries and one-line errors that name no secret."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_token: str,
        *,
        policy: RetryPolicy,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self._auth = {"X-App-Id": app_id, "X-App-Token": app_token}
        self._api_host = urlsplit(self.base_url).hostname or ""
        self.policy = policy
        self.sleep = sleep
        self.requests = 0
        self.retries = 0
        self.http = httpx.Client(timeout=timeout, headers={"User-Agent": "loyalty-warehouse"})

    def close(self) -> None:
        self.http.close()

    def get_json(self, path: str, *, params: dict[str, Any] | None = None, what: str | None = None) -> Any:
        return self._json(self.request("GET", path, params=params, what=what), what or f"GET {path}")

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return self._json(self.request("POST", path, json=body), f"POST {path}")

    def request(
        self, method: str, path_or_url: str, *, what: str | None = None, stream: bool = False, **kwargs
    ) -> httpx.Response:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        what = what or f"{method} {urlsplit(url).path}"  # never the query: download URLs carry a token
        for attempt in range(1, self.policy.max_attempts + 1):
            self.requests += 1
            try:
                request = self.http.build_request(method, url, headers=self._headers_for(url), **kwargs)
                response = self.http.send(request, stream=stream)
            except httpx.TimeoutException:
                problem, delay = "timed out", self.policy.backoff(attempt)
            except httpx.TransportError as exc:
                problem, delay = f"connection failed ({type(exc).__name__})", self.policy.backoff(attempt)
            else:
                if response.status_code < 400:
                    return response
                response.read()
                response.close()
                if response.status_code == 429:
                    delay = _retry_after(response)
                    if delay is None:
                        delay = self.policy.backoff(attempt)
                    if delay > self.policy.max_retry_after:
                        raise IngestError(
                            f"Voucherify API {what}: rate limited, Retry-After {delay:.0f} s exceeds the "
                            f"{self.policy.max_retry_after:.0f} s we wait; try again later"
                        )
                    problem = "HTTP 429 rate limited"
                elif response.status_code >= 500:
                    problem, delay = f"HTTP {response.status_code}", self.policy.backoff(attempt)
                else:
                    raise ApiStatusError(what, response.status_code, _api_error(response))
            if attempt == self.policy.max_attempts:
                raise IngestError(f"Voucherify API {what}: {problem}; giving up after {attempt} attempts")
            self.retries += 1
            log.warning("Voucherify API %s: %s; retry %d in %.1f s", what, problem, attempt, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _headers_for(self, url: str) -> dict[str, str]:
        # Export downloads may live on another Voucherify host; the app token goes to Voucherify hosts only.
        host = urlsplit(url).hostname or ""
        if host == self._api_host or host == "voucherify.io" or host.endswith(".voucherify.io"):
            return dict(self._auth)
        return {}

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise MalformedResponse(what, f"not JSON: {response.text[:80]!r}") from exc


class ApiStatusError(IngestError):
    """A 4xx answer other than 429: not retried; `status` lets a caller tell, say, a gone file from bad auth."""

    def __init__(self, what: str, status: int, api_error: str):
        super().__init__(f"Voucherify API {what}: HTTP {status} {api_error}")
        self.status = status


class MalformedResponse(IngestError):
    def __init__(self, what: str, reason: str):
        super().__init__(
            f"Voucherify API {what}: malformed response ({reason}); everything before it is saved "
            "and the next pull resumes from there"
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _api_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().replace("\n", " ")[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [str(body.get(key)) for key in ("key", "message", "details") if body.get(key)]
    code = body.get("code")
    return (f"[{code}] " if code is not None else "") + ": ".join(parts)


class _RedactSecrets(logging.Filter):
    """Scrubs the app token and URL tokens from httpx/httpcore log records (they log full request URLs)."""

    URL_TOKEN = re.compile(r"((?:token|signature|access_token|X-Amz-Signature)=)[^&\s\"']+", re.IGNORECASE)

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.URL_TOKEN.sub(r"\1<redacted>", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "<redacted>")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


@contextmanager
def secrets_redacted(secrets: list[str]) -> Iterator[None]:
    redactor = _RedactSecrets(secrets)
    loggers = [logging.getLogger(name) for name in HTTP_LOGGERS]
    for logger in loggers:
        logger.addFilter(redactor)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redactor)
