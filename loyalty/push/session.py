"""What one push carries through its steps: the API client, the log, the push record, progress and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from rich.progress import Progress

from ingest.voucherify.client import ApiClient
from loyalty.push.log import PushLog, PushRecord


@dataclass
class PushSession:
    client: ApiClient | None  # None in a dry run: nothing is sent, nothing is asked
    log: PushLog
    record: PushRecord
    progress: Progress
    out: TextIO  # where a dry run prints what it would send
    poll_interval: float = 1.0
    poll_cap: float = 30.0
    action_timeout: float = 3600.0
    problems: list[str] = field(default_factory=list)  # one line each, reported once at the end

    @property
    def dry_run(self) -> bool:
        return self.client is None

    def count(self, key: str, n: int = 1) -> None:
        self.record.counts[key] = self.record.counts.get(key, 0) + n
