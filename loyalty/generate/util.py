"""Small deterministic helpers: times as integer epoch milliseconds, ids, money, gzip and CSV writing."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import time
from functools import lru_cache
from pathlib import Path

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@lru_cache(maxsize=65536)
def _second(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


def _base(ms: int) -> str:
    return _second(ms // 1000)


def iso3(ms: int) -> str:
    """2026-11-25T10:00:00.123Z (webhooks, ground truth)."""
    return f"{_base(ms)}.{ms % 1000:03d}Z"


def iso6(ms: int) -> str:
    """2026-11-25T10:00:00.123000Z (Voucherify object timestamps, exports)."""
    return f"{_base(ms)}.{ms % 1000:03d}000Z"


def iso_offset(ms: int) -> str:
    """2026-11-25T10:00:00.123+00:00 (Segment warehouse dumps)."""
    return f"{_base(ms)}.{ms % 1000:03d}+00:00"


def iso0(ms: int) -> str:
    """2026-11-25T10:00:00Z: only for times that are never compared at sub-second precision."""
    return f"{_base(ms)}Z"


def day_str(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def month_start(ms: int) -> str:
    """The first day of the UTC month of `ms`: "2026-11-01"."""
    return time.strftime("%Y-%m-01", time.gmtime(ms // 1000))


def money(cents: int | None) -> str:
    """Cents → decimal string with two places ("-3.05")."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


_ALNUM = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM_TABLE = bytes(_ALNUM[i % 62] for i in range(256))


class Ids:
    """Vendor-looking ids from the world's random stream (deterministic for a seed)."""

    def __init__(self, rng: random.Random):
        self._rng = rng

    def hex(self, prefix: str, digits: int = 18) -> str:
        return f"{prefix}{self._rng.getrandbits(digits * 4):0{digits}x}"

    def alnum(self, prefix: str, length: int = 24) -> str:
        raw = self._rng.getrandbits(8 * length).to_bytes(length, "big")
        return prefix + raw.translate(_ALNUM_TABLE).decode("ascii")

    def uuid(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """Segment's warehouse rule: non-alphanumerics split words, lower→Upper starts a word, capital runs stay one."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+", name)
    return "_".join(w.lower() for w in words)


def write_gzip(path: Path, data: bytes) -> None:
    """gzip with a fixed header (mtime 0, no name) so the same seed writes the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=5) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
