"""Re-runs, changed files, crashes (a real `loyalty ingest` killed with SIGKILL), the CLI's summary and exit codes."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from test_ingest_formats import ingest, ndjson, query, v2024, write, write_csv

REPO_ROOT = Path(__file__).resolve().parents[1]
RAW_TABLES = {
    # table → lineage columns that legitimately differ between runs
    "raw.voucherify_webhooks": ["_batch_id", "_ingested_at"],
    "raw.voucherify_exports": ["_batch_id", "_ingested_at"],
    "raw.voucherify_api_objects": ["_batch_id", "_ingested_at"],
    "raw.segment_events": ["_batch_id", "_ingested_at"],
    "raw.rejected_records": ["_batch_id", "rejected_at"],
    "raw.ingest_files": ["batch_id", "loaded_at"],
}


def contents(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: con.execute(f"select * exclude ({', '.join(skip)}) from {t} order by all").fetchall()
            for t, skip in RAW_TABLES.items()
        }


def cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    env["COLUMNS"] = "200"
    return subprocess.Popen(
        [sys.executable, "-m", "loyalty.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def run_cli(*args: str) -> subprocess.CompletedProcess:
    proc = cli(*args)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def small_landing(root: Path) -> Path:
    landing = root / "landing"
    write(landing / "voucherify/webhooks/a.ndjson", ndjson([v2024("1", "a.b"), v2024("2", "c.d")]))
    write(
        landing / "voucherify/webhooks/b.ndjson", ndjson([v2024("1", "a.b")]) + "{broken\n"
    )  # a retry of ev_1, and a bad line
    write_csv(landing / "voucherify/exports/order/o.csv", ["id", "amount"], [["ord_1", "10"], ["ord_2", "20"]])
    return landing


def test_rerun_adds_nothing_and_duplicates_across_files_are_kept(tmp_path):
    landing, wh = small_landing(tmp_path), tmp_path / "w.duckdb"
    first = ingest(landing, wh)
    assert (first.files_loaded, first.rows_loaded, first.rejected_total) == (3, 5, 1)
    before = contents(wh)
    assert query(wh, "select count(*) from raw.voucherify_webhooks where event_id = 'ev_1'") == [
        (2,)
    ]  # one per delivery
    second = ingest(landing, wh)
    assert (second.files_loaded, second.files_unchanged, second.rows_loaded, second.rejected_total) == (0, 3, 0, 0)
    assert contents(wh) == before
    assert query(wh, "select status, files_loaded from raw.ingest_batches order by started_at") == [
        ("succeeded", 3),
        ("succeeded", 0),
    ]


def test_a_changed_file_replaces_its_rows_and_rejects(tmp_path):
    landing, wh = small_landing(tmp_path), tmp_path / "w.duckdb"
    ingest(landing, wh)
    write(landing / "voucherify/webhooks/b.ndjson", ndjson([v2024("1", "a.b"), v2024("3", "e.f")]))  # fixed and grown
    write_csv(landing / "voucherify/exports/order/o.csv", ["id", "amount"], [["ord_1", "15"]])
    report = ingest(landing, wh)
    assert (report.files_loaded, report.files_unchanged, report.rows_loaded, report.rejected_total) == (2, 1, 3, 0)
    assert query(wh, "select _file, _line, event_id from raw.voucherify_webhooks order by 1, 2") == [
        ("voucherify/webhooks/a.ndjson", 1, "ev_1"),
        ("voucherify/webhooks/a.ndjson", 2, "ev_2"),
        ("voucherify/webhooks/b.ndjson", 1, "ev_1"),
        ("voucherify/webhooks/b.ndjson", 2, "ev_3"),
    ]
    assert query(wh, "select record_id, record->>'amount' from raw.voucherify_exports") == [("ord_1", "15")]
    assert query(wh, "select count(*) from raw.rejected_records") == [(0,)]
    assert query(wh, "select file_path, rows_loaded, rows_rejected from raw.ingest_files order by 1") == [
        ("voucherify/exports/order/o.csv", 1, 0),
        ("voucherify/webhooks/a.ndjson", 2, 0),
        ("voucherify/webhooks/b.ndjson", 2, 0),
    ]


def crash_landing(root: Path) -> Path:
    """Enough data for many transactions per run: thousands of small webhook files (1000 per transaction,
    some gzip), large ones (DuckDB's own reader; one with a bad line, so the exact path reloads it),
    exports and Segment dumps."""
    landing = root / "landing"
    template = json.dumps(v2024("{i}", "voucher.published", data={"pad": "z" * 300}))
    template = template.replace('"whs_{i}"', '"whs_%d"').replace('"ev_{i}"', '"ev_%d"')
    n = 0
    for f in range(3):
        lines = [template % (k, k) for k in range(n, n + 25_000)]
        n += 25_000
        if f == 1:
            lines[777] = "{not json"
        write(landing / f"voucherify/webhooks/big/{f:02d}.ndjson", "\n".join(lines) + "\n")
    for f in range(4000):
        body = "".join(template % (k, k) + "\n" for k in range(n, n + 5))
        n += 5
        name = f"voucherify/webhooks/small/{f // 100:02d}/{f:04d}.ndjson"
        write(landing / (name + ".gz" if f % 3 == 0 else name), gzip.compress(body.encode()) if f % 3 == 0 else body)
    for f in range(3):
        write_csv(
            landing / f"voucherify/exports/order/{f}.csv",
            ["ID", "Amount"],
            [[f"ord_{f}_{k}", str(k)] for k in range(2000)],
        )
    for f in range(3):
        write_csv(
            landing / f"segment/warehouse/pos/tracks/{f}.csv",
            ["id", "received_at", "event"],
            [[f"m{f}_{k}", "2024-05-01T00:00:00Z", "x"] for k in range(2000)],
        )
    return landing


@pytest.mark.fault
def test_sigkill_at_any_moment_then_rerun_equals_an_uninterrupted_run(tmp_path):
    landing = crash_landing(tmp_path)
    reference = tmp_path / "reference.duckdb"
    started = time.monotonic()
    done = run_cli("ingest", "--landing", str(landing), "--warehouse", str(reference))
    full_seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    expected = contents(reference)
    total_files = len(expected["raw.ingest_files"])
    assert len(expected["raw.rejected_records"]) == 1

    # Kill a real ingest at several moments; on a busy machine start-up time varies, so try up to three
    # fresh attempts until a kill provably lands mid-load (the assertion below never loosens).
    for attempt in range(3):
        crashed = tmp_path / f"crashed-{attempt}.duckdb"
        partial_states = []
        for fraction in (0.3, 0.5, 0.7, 0.9):
            proc = cli("ingest", "--landing", str(landing), "--warehouse", str(crashed))
            time.sleep(full_seconds * fraction)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            if crashed.exists():
                with duckdb.connect(str(crashed), read_only=True) as con:
                    has_manifest = con.execute(
                        "select count(*) from information_schema.tables "
                        "where table_schema = 'raw' and table_name = 'ingest_files'"
                    ).fetchone()[0]
                    if has_manifest:
                        partial_states.append(con.execute("select count(*) from raw.ingest_files").fetchone()[0])
        if any(0 < n < total_files for n in partial_states):
            break
    # The kills landed mid-load at least once, so the rerun really had something to finish.
    assert any(0 < n < total_files for n in partial_states), (partial_states, total_files, full_seconds)
    finish = run_cli("ingest", "--landing", str(crashed.parent / "landing"), "--warehouse", str(crashed))
    assert finish.returncode == 0, finish.stderr
    assert contents(crashed) == expected


def test_cli_prints_a_summary_and_strict_exits_3(tmp_path):
    landing, wh = small_landing(tmp_path), tmp_path / "w.duckdb"
    result = run_cli("ingest", "--landing", str(landing), "--warehouse", str(wh), "--strict")
    assert result.returncode == 3
    assert "error: 1 record(s) rejected" in result.stderr and "Traceback" not in result.stderr
    table = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
        for line in result.stdout.splitlines()
        if line.count("│") >= 5
    }
    assert table["voucherify_webhooks"] == ["2", "3", "1"]
    assert table["voucherify_exports"] == ["1", "2", "0"]
    assert table["total"] == ["3", "5", "1"]
    # Nothing new on the second run, so nothing rejected in it: --strict passes.
    again = run_cli("ingest", "--landing", str(landing), "--warehouse", str(wh), "--strict")
    assert again.returncode == 0, again.stderr


def test_cli_bad_landing_is_one_line(tmp_path):
    for landing in (tmp_path / "missing", write(tmp_path / "file.txt", "x")):
        result = run_cli("ingest", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb"))
        assert result.returncode == 1
        assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: landing folder"), (
            result.stderr
        )


@pytest.mark.fault
@pytest.mark.parametrize("deliveries", [12_000, 200], ids=["fast-path", "precise-path"])
def test_a_file_rewritten_while_ingest_reads_it_is_never_recorded_as_loaded_whole(tmp_path, monkeypatch, deliveries):
    """A sync tool rewrites a landing file with the same content while ingest runs: ingest hashed the whole
    file, then read it while it was half written. The hash recorded must be that of what was loaded, so the
    next ingest sees the whole file as changed and loads all of it."""
    import ingest.manifest as manifest_module

    landing = tmp_path / "landing"
    target = write(
        landing / "voucherify/webhooks/sync/all.ndjson", ndjson([v2024(str(n), "a.b") for n in range(deliveries)])
    )
    whole = target.read_bytes()
    real_digest = manifest_module.digest

    def digest_then_rewrite(f):
        digested = real_digest(f)
        if f.path == target:
            half = whole[: len(whole) // 2]
            target.write_bytes(half[: half.rfind(b"\n") + 1])  # the rewrite is half way when the loader reads
        return digested

    monkeypatch.setattr(manifest_module, "digest", digest_then_rewrite)
    warehouse = tmp_path / "w.duckdb"
    ingest(landing, warehouse)
    monkeypatch.setattr(manifest_module, "digest", real_digest)
    target.write_bytes(whole)  # the rewrite finishes: the same bytes as before
    ingest(landing, warehouse)
    assert query(warehouse, "select count(*), count(distinct event_id) from raw.voucherify_webhooks") == [
        (deliveries, deliveries)
    ]
    assert query(warehouse, "select size_bytes, content_hash from raw.ingest_files") == [
        (len(whole), hashlib.sha256(whole).hexdigest())
    ]


@pytest.mark.fault
def test_a_file_removed_between_hashing_and_loading_is_loaded_when_it_comes_back(tmp_path, monkeypatch):
    """Not quarantined as unreadable under the hash of content that was never read: skipped this time."""
    import ingest.manifest as manifest_module

    landing = tmp_path / "landing"
    target = write(landing / "voucherify/webhooks/moving/a.ndjson", ndjson([v2024(str(n), "a.b") for n in range(5)]))
    content = target.read_bytes()
    real_digest = manifest_module.digest

    def digest_then_remove(f):
        digested = real_digest(f)
        if f.path == target:
            target.unlink()
        return digested

    monkeypatch.setattr(manifest_module, "digest", digest_then_remove)
    warehouse = tmp_path / "w.duckdb"
    report = ingest(landing, warehouse)
    assert [(s.rel, s.reason) for s in report.skipped] == [
        ("voucherify/webhooks/moving/a.ndjson", "removed while it was being loaded")
    ]
    assert query(warehouse, "select count(*) from raw.rejected_records") == [(0,)]
    monkeypatch.setattr(manifest_module, "digest", real_digest)
    target.write_bytes(content)
    ingest(landing, warehouse)
    assert query(warehouse, "select count(*) from raw.voucherify_webhooks") == [(5,)]
