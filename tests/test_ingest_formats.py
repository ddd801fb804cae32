"""Every landing format loads into the raw layer with its keys extracted and its lineage kept."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest import load_landing

SAMPLE_LINES = None


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def ndjson(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def ingest(landing: Path, warehouse: Path, **kwargs):
    return load_landing(landing, warehouse, progress=False, **kwargs)


def v2024(
    event_id: str, event_type: str, *, type_as_sent: str | None = None, source: str = "wh_1", obj="webhook", data=None
):
    return {
        "id": f"whs_{event_id}",
        "project_id": "proj_1",
        "created_at": "2024-05-01T10:00:00.123Z",
        "type": type_as_sent or event_type,
        "data": data or {"customer": {"id": "cust_1", "source_id": "+100"}},
        "source": {"id": source, "object": obj, "target_url": "https://example.com/hook"},
        "event": {"id": f"ev_{event_id}", "type": event_type, "created_at": "2024-05-01T10:00:00Z", "entity_id": None},
    }


def v2018(event_id: str, event_type: str):
    return {
        "id": f"evt_{event_id}",
        "object": "event",
        "webhook_id": "wh_legacy",
        "project_id": "proj_1",
        "created_at": "2023-02-01T08:00:00.000000+01:00",
        "type": event_type,
        "data": {"object": {"id": "r_1", "object": "redemption", "result": "SUCCESS"}, "related_object": None},
        "metadata": {"source": "API"},
    }


def test_every_line_of_the_shared_sample_ingests(tmp_path, sample_webhooks):
    landing = tmp_path / "landing"
    write(landing / "voucherify/webhooks/2024/01/samples.ndjson", sample_webhooks.read_bytes())
    report = ingest(landing, tmp_path / "w.duckdb")
    expected = [json.loads(line) for line in sample_webhooks.read_text().splitlines() if line.strip()]
    assert report.rejected_total == 0
    assert report.rows_loaded == len(expected) == report.per_source["voucherify_webhooks"].rows
    rows = query(
        tmp_path / "w.duckdb",
        "select _line, event_id, delivery_id, webhook_source_id, event_type, type_as_sent, created_at, payload "
        "from raw.voucherify_webhooks order by _line",
    )
    for (line, event_id, delivery_id, source_id, event_type, type_as_sent, created_at, payload), body in zip(
        rows, expected
    ):
        assert json.loads(payload) == body, line
        assert (event_id, delivery_id, source_id) == (body["event"]["id"], body["id"], body["source"]["id"])
        assert event_type == body["event"]["type"]  # canonical, also for distributions' free text
        assert type_as_sent == body["type"]
        assert created_at is not None
    assert [r[0] for r in rows] == list(range(1, len(expected) + 1))


def test_webhook_envelopes_and_file_kinds(tmp_path):
    landing = tmp_path / "landing"
    hooks = landing / "voucherify/webhooks"
    write(
        hooks / "project/2024-05-01.ndjson",
        ndjson([v2024("a1", "redemption.succeeded"), v2024("a2", "voucher.published")]),
    )
    distribution = v2024(
        "d1", "customer.order.paid", type_as_sent="Order paid → notify", source="distr_9", obj="distribution"
    )
    write(hooks / "distribution/2024-05-01.ndjson.gz", gzip.compress(ndjson([distribution]).encode()))
    write(hooks / "legacy/2023.ndjson", ndjson([v2018("l1", "redemption.succeeded"), v2018("l2", "points_earned")]))
    write(hooks / "receiver/2024-05-02/whs_b1.json", json.dumps(v2024("b1", "customer.created"), indent=2))
    # CRLF line endings, a blank line and a UTF-8 BOM do not shift line numbers.
    write(
        hooks / "crlf/x.ndjson",
        "\ufeff" + json.dumps(v2024("c1", "a.b")) + "\r\n\r\n" + json.dumps(v2024("c2", "unknown.kind")) + "\r\n",
    )
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rejected_total == 0 and report.rows_loaded == 8
    rows = {
        r[0]: r[1:]
        for r in query(
            tmp_path / "w.duckdb",
            "select event_id, envelope, delivery_id, webhook_source_id, source_object, event_type, type_as_sent, "
            "created_at::varchar, _file, _line from raw.voucherify_webhooks",
        )
    }
    assert rows["ev_d1"] == (
        "v2024",
        "whs_d1",
        "distr_9",
        "distribution",
        "customer.order.paid",
        "Order paid → notify",
        "2024-05-01 10:00:00+00",
        "voucherify/webhooks/distribution/2024-05-01.ndjson.gz",
        1,
    )
    assert rows["evt_l1"] == (
        "v2018",
        None,
        "wh_legacy",
        None,
        "redemption.succeeded",
        "redemption.succeeded",
        "2023-02-01 07:00:00+00",
        "voucherify/webhooks/legacy/2023.ndjson",
        1,
    )
    assert rows["evt_l2"][4] == "points_earned" and rows["evt_l2"][8] == 2
    assert rows["ev_b1"][7:] == ("voucherify/webhooks/receiver/2024-05-02/whs_b1.json", 1)
    assert rows["ev_c1"][8] == 1 and rows["ev_c2"][8] == 3  # line 2 was blank
    assert rows["ev_c2"][4] == "unknown.kind"  # unknown event types are kept
    payload = query(tmp_path / "w.duckdb", "select payload from raw.voucherify_webhooks where event_id = 'ev_b1'")[0][0]
    assert json.loads(payload) == v2024("b1", "customer.created")


def test_large_webhook_file_takes_the_fast_path_with_exact_lines(tmp_path, monkeypatch):
    import ingest.jsonlines as jsonlines_module

    def no_precise_path(*args, **kwargs):
        raise AssertionError("a clean large file must not need the line-by-line path")

    monkeypatch.setattr(jsonlines_module, "load_precise", no_precise_path)
    landing = tmp_path / "landing"
    records = [v2024(f"{i:06d}", "voucher.published", data={"pad": "x" * 300}) for i in range(30_000)]  # > 8 MB
    path = write(landing / "voucherify/webhooks/big.ndjson", ndjson(records))
    assert path.stat().st_size > 8 << 20
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rows_loaded == 30_000 and report.rejected_total == 0
    mismatched = query(
        tmp_path / "w.duckdb",
        "select count(*) from raw.voucherify_webhooks where event_id <> 'ev_' || lpad((_line - 1)::varchar, 6, '0')",
    )
    assert mismatched == [(0,)]


def test_export_csvs_in_both_header_styles(tmp_path):
    landing = tmp_path / "landing"
    exports = landing / "voucherify/exports"
    write_csv(
        exports / "redemption/2024-05/export_1.csv",
        ["id", "object", "date", "voucher_code", "customer_source_id", "order_amount", "result"],
        [
            ["r_1", "redemption", "2024-05-01T10:00:00.000Z", "SPRING", "+100", "1000", "SUCCESS"],
            ["rf_2", "redemption", "2024-05-01T11:00:00Z", "", "+101", "", "FAILURE"],
        ],
    )
    write_csv(
        exports / "redemption/export_2.csv",
        ["ID", "Object", "Date", "Voucher Code", "Customer Source Id", "Order Amount", "Result"],
        [["r_3", "redemption", "2024-05-02T10:00:00Z", "SUMMER", "+102", "2500", "SUCCESS"]],
    )
    details = json.dumps({"balance": {"points": -20, "balance": 80}, "order": {"id": "ord_1"}})
    write_csv(
        exports / "voucher_transactions/t.csv",
        ["id", "type", "amount", "created_at", "details"],
        [["vtx_1", "POINTS_REDEMPTION", "-20", "2024-05-03T00:00:00Z", details]],
    )
    write_csv(
        exports / "order/o.csv",
        ["id", "status", "amount", "metadata.location_id", "Metadata.Channel"],
        [["ord_1", "PAID", "1000", "London", "pos"]],
    )
    for obj in ("customer", "voucher", "points_expiration"):
        write_csv(exports / obj / "x.csv", ["id", "created_at"], [[f"{obj}_1", "2024-05-01T00:00:00Z"]])
    # the publication export has no id: keyed by voucher code, customer and date
    write_csv(
        exports / "publication/x.csv", ["code", "customer_id", "date"], [["P-1", "cust_1", "2024-05-01T00:00:00Z"]]
    )
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rejected_total == 0 and report.per_source["voucherify_exports"].rows == 9
    rows = {
        r[0]: r[1:]
        for r in query(
            tmp_path / "w.duckdb", "select record_id, exported_object, record, _line from raw.voucherify_exports"
        )
    }
    assert json.loads(rows["r_3"][1]) == {
        "id": "r_3",
        "object": "redemption",
        "date": "2024-05-02T10:00:00Z",
        "voucher_code": "SUMMER",
        "customer_source_id": "+102",
        "order_amount": "2500",
        "result": "SUCCESS",
    }
    assert json.loads(rows["rf_2"][1])["voucher_code"] is None and rows["rf_2"][2] == 2
    assert json.loads(json.loads(rows["vtx_1"][1])["details"]) == json.loads(details)
    assert json.loads(rows["ord_1"][1])["metadata.location_id"] == "London"
    assert json.loads(rows["ord_1"][1])["metadata.channel"] == "pos"
    assert {r[0] for r in rows.values()} == {
        "redemption",
        "voucher_transactions",
        "order",
        "customer",
        "publication",
        "voucher",
        "points_expiration",
    }


def test_segment_warehouse_dumps_csv_parquet_and_drift(tmp_path):
    landing = tmp_path / "landing"
    wh = landing / "segment/warehouse"
    common = ["id", "anonymous_id", "user_id", "received_at", "sent_at", "timestamp", "context_library_name"]
    write_csv(
        wh / "pos/order_placed/2024-05-01.csv",
        [*common, "event", "event_text", "voucherify_order_id", "localisation"],
        [
            [
                "m1",
                "",
                "+100",
                "2024-05-01T10:00:01Z",
                "",
                "2024-05-01T10:00:00Z",
                "pos",
                "order_placed",
                "Order placed",
                "ord_1",
                "London",
            ]
        ],
    )
    # Drift: a new column and one that disappears in the next load.
    write_csv(
        wh / "pos/order_placed/2024-05-02.csv",
        [*common, "event", "event_text", "voucherify_order_id", "localisation", "cashier"],
        [
            [
                "m2",
                "",
                "+101",
                "2024-05-02T10:00:01Z",
                "",
                "2024-05-02T10:00:00Z",
                "pos",
                "order_placed",
                "Order placed",
                "ord_2",
                "Paris",
                "ann",
            ]
        ],
    )
    (wh / "mobile_app/order_completed").mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "id": ["u1"],
                "received_at": pa.array([1714557600000000], pa.timestamp("us")),
                "email": ["a@b.c"],
                "tier": [3],
            }
        ),
        wh / "mobile_app/users.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "id": ["m3"],
                "user_id": ["u1"],
                "received_at": ["2024-05-01T10:00:00Z"],
                "timestamp": ["2024-05-01T09:59:00Z"],
                "event": ["order_completed"],
                "event_text": ["Order Completed"],
                "total": [12.5],
                "products": ['[{"sku": "a"'],
                "context_app_version": ["1.2"],
            }
        ),
        wh / "mobile_app/order_completed/part-0.parquet",
    )
    write_csv(
        wh / "mobile_app/identifies.csv",
        ["id", "user_id", "received_at", "email"],
        [["m4", "u1", "2024-05-01T10:00:00Z", "a@b.c"]],
    )
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rejected_total == 0 and report.per_source["segment_warehouse"].rows == 5
    rows = {
        r[0]: r[1:]
        for r in query(
            tmp_path / "w.duckdb",
            "select message_id, source_schema, table_name, type, event, event_text, user_id, received_at::varchar, "
            "properties, _line from raw.segment_events",
        )
    }
    assert rows["m1"][:7] == (
        "pos",
        "order_placed",
        "track",
        "order_placed",
        "Order placed",
        "+100",
        "2024-05-01 10:00:01+00",
    )
    assert json.loads(rows["m1"][7]) == {"voucherify_order_id": "ord_1", "localisation": "London"}
    assert json.loads(rows["m2"][7])["cashier"] == "ann"
    assert rows["u1"][:6] == ("mobile_app", "users", "user", None, None, "u1")
    assert json.loads(rows["u1"][7]) == {"email": "a@b.c", "tier": 3}
    assert rows["u1"][6] == "2024-05-01 10:00:00+00"  # a naive parquet timestamp is UTC
    assert json.loads(rows["m3"][7]) == {
        "total": 12.5,
        "products": '[{"sku": "a"',
    }  # truncated JSON text is kept as text
    assert rows["m4"][:3] == ("mobile_app", "identifies", "identify") and rows["m4"][8] == 1


def test_segment_archive_objects(tmp_path):
    landing = tmp_path / "landing"
    logs = landing / "segment/archive/bucket/segment-logs"
    write(logs / "dummy-object.txt", "segment destination check\n")
    messages = [
        {
            "messageId": "a1",
            "type": "track",
            "event": "Order Completed",
            "userId": "+100",
            "anonymousId": None,
            "properties": {"orderID": "o1", "store": {"location_id": "London"}, "products": [{"sku": "x"}], "id": 7},
            "context": {"app": {"version": "1"}},
            "timestamp": "2024-05-01T10:00:00.123456Z",
            "receivedAt": "2024-05-01T10:00:01Z",
        },
        {
            "messageId": "a2",
            "type": "identify",
            "userId": "+100",
            "traits": {"firstName": "Ann", "address": {"postalCode": "123"}},
            "timestamp": "2024-05-01T10:00:00Z",
        },
        {
            "messageId": "a3",
            "type": "page",
            "anonymousId": "anon",
            "properties": {"path": "/"},
            "timestamp": "2024-05-01T10:00:00Z",
            "receivedAt": "2024-05-01T10:00:02Z",
            "version": "1.1",
            "newField": {"x": 1},
        },
    ]
    day = "1714521600000"  # 2024-05-01
    write(logs / "SrcA" / day / "obj1.gz", gzip.compress(ndjson(messages[:2]).encode()))
    write(logs / "SrcA" / day / "obj2.gz", ndjson(messages[2:]))  # stored decompressed despite its name
    write(landing / "segment/archive/bucket/notes.txt", "stray")
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rejected_total == 0 and report.per_source["segment_archive"].rows == 3
    assert sorted(s.rel for s in report.skipped) == [
        "segment/archive/bucket/notes.txt",
        "segment/archive/bucket/segment-logs/dummy-object.txt",
    ]
    rows = {
        r[0]: r[1:]
        for r in query(
            tmp_path / "w.duckdb",
            "select message_id, origin, source_schema, table_name, type, event, event_text, received_at::varchar, "
            "properties, payload from raw.segment_events",
        )
    }
    assert rows["a1"][:7] == (
        "archive",
        "SrcA",
        "order_completed",
        "track",
        "order_completed",
        "Order Completed",
        "2024-05-01 10:00:01+00",
    )
    assert json.loads(rows["a1"][7]) == {
        "order_id": "o1",
        "store_location_id": "London",
        "products": '[{"sku":"x"}]',
        "_id": 7,
    }
    assert rows["a2"][2:4] == ("identifies", "identify")
    assert json.loads(rows["a2"][7]) == {"first_name": "Ann", "address_postal_code": "123"}
    assert rows["a2"][6] == "2024-05-01 00:00:00+00"  # no receivedAt: the receive day from the path
    assert rows["a3"][2] == "pages" and json.loads(rows["a3"][8]) == messages[2]


def test_api_objects_by_endpoint(tmp_path):
    landing = tmp_path / "landing"
    write(
        landing / "voucherify/api/redemptions/2024/page-1.ndjson",
        ndjson([{"id": "r_1", "object": "redemption", "date": "2024-05-01T10:00:00Z"}]),
    )
    write(
        landing / "voucherify/api/loyalty_transactions/page-1.ndjson",
        ndjson([{"id": "vtx_1", "object": "loyalty_transaction", "created_at": "2024-05-01T11:00:00Z", "new": True}]),
    )
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rejected_total == 0
    assert sorted(
        query(
            tmp_path / "w.duckdb",
            "select endpoint, object_id, object_type, created_at::varchar from raw.voucherify_api_objects",
        )
    ) == [
        ("loyalty_transactions", "vtx_1", "loyalty_transaction", "2024-05-01 11:00:00+00"),
        ("redemptions", "r_1", "redemption", "2024-05-01 10:00:00+00"),
    ]


def test_ground_truth_and_unknown_folders_are_not_data(tmp_path):
    landing = tmp_path / "landing"
    write(landing / "ground_truth/summary.json", "{}")
    write(landing / "somewhere/else.ndjson", "{}\n")
    write(landing / "voucherify/webhooks/readme.txt", "hi")
    write(landing / "voucherify/_state/pull_state.json", "{}")  # the API pull's bookkeeping: not even a stray
    write(landing / "voucherify/_state/pull.lock", "")
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.files_seen == 0
    assert sorted(s.rel for s in report.skipped) == ["somewhere/else.ndjson", "voucherify/webhooks/readme.txt"]


@pytest.mark.slow
def test_generated_world_rejections_match_ground_truth(generated_landing, tmp_path):
    summary = json.loads((generated_landing / "ground_truth/summary.json").read_text())
    report = ingest(generated_landing, tmp_path / "w.duckdb")
    expected = summary["expected_rejections"]
    assert {s: report.per_source[s].rejected for s in expected} == expected
    assert report.rejected_total == sum(expected.values())
    by_source = dict(query(tmp_path / "w.duckdb", "select source, count(*) from raw.rejected_records group by 1"))
    assert {s: by_source.get(s, 0) for s in expected} == expected
    assert report.per_source["segment_archive"].rows + report.per_source["segment_warehouse"].rows > 0
    # A second run over the same world changes nothing.
    again = ingest(generated_landing, tmp_path / "w.duckdb")
    assert again.files_loaded == 0 and again.rows_loaded == 0 and again.files_unchanged == report.files_loaded


def test_large_file_with_blank_lines_keeps_line_numbers(tmp_path):
    landing = tmp_path / "landing"
    lines = [json.dumps(v2024(f"{i:06d}", "voucher.published", data={"pad": "x" * 300})) for i in range(30_000)]
    text = "\n".join(lines[:100]) + "\n\n\r\n" + "\n".join(lines[100:]) + "\n"  # two blank lines after line 100
    write(landing / "voucherify/webhooks/gaps.ndjson", text)
    report = ingest(landing, tmp_path / "w.duckdb")
    assert report.rows_loaded == 30_000 and report.rejected_total == 0
    assert query(
        tmp_path / "w.duckdb",
        "select _line from raw.voucherify_webhooks where event_id in ('ev_000099', 'ev_000100') order by 1",
    ) == [(100,), (103,)]


def test_symlinked_folders_are_followed_once(tmp_path):
    elsewhere = tmp_path / "exports_disk"
    write(elsewhere / "2024/hooks.ndjson", ndjson([v2024("s1", "a.b")]))
    (elsewhere / "2024/loop").symlink_to(elsewhere)  # a link loop must not hang or duplicate
    landing = tmp_path / "landing"
    (landing / "voucherify").mkdir(parents=True)
    (landing / "voucherify/webhooks").symlink_to(elsewhere)
    report = ingest(landing, tmp_path / "w.duckdb")
    assert (report.files_seen, report.rows_loaded) == (1, 1)
    assert query(tmp_path / "w.duckdb", "select _file from raw.voucherify_webhooks") == [
        ("voucherify/webhooks/2024/hooks.ndjson",)
    ]
