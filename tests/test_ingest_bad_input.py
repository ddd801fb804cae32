"""Bad input is quarantined in raw.rejected_records with source, file, line and reason; the rest still loads."""

from __future__ import annotations

import gzip
import json

from test_ingest_formats import ingest, ndjson, query, v2024, write, write_csv


def rejected(warehouse) -> list[tuple]:
    return query(
        warehouse, "select source, file_path, line, reason, snippet from raw.rejected_records order by file_path, line"
    )


def webhook_ids(warehouse) -> list[tuple]:
    return query(warehouse, "select _file, _line, event_id from raw.voucherify_webhooks order by _file, _line")


def test_bad_webhook_lines_are_quarantined_one_by_one(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    good = [json.dumps(v2024(f"g{i}", "voucher.published")) for i in range(4)]
    no_id = v2024("x", "voucher.published")
    del no_id["event"]["id"], no_id["id"]
    bad_time = v2024("t", "voucher.published")
    bad_time["event"]["created_at"] = "yesterday"
    lines = [
        good[0],
        '{"id": "whs_cut", "type": "redemption.succ',  # 2: cut off mid-body
        good[1],
        "[1, 2, 3]",  # 4: JSON, but not an object
        json.dumps(no_id),  # 5: nothing identifies the event
        json.dumps(bad_time),  # 6: a timestamp that is not one
        json.dumps(v2024("big", "voucher.published", data={"pad": "x" * 5000})),  # 7: over the configured limit
        good[2],
        "  ",  # 9: whitespace only
        good[3],
    ]
    write(landing / "voucherify/webhooks/mixed.ndjson", "\n".join(lines) + "\n")
    report = ingest(landing, wh, max_record_bytes=4096)
    f = "voucherify/webhooks/mixed.ndjson"
    assert [r[:4] for r in rejected(wh)] == [
        ("voucherify_webhooks", f, 2, "malformed JSON"),
        ("voucherify_webhooks", f, 4, "not a JSON object"),
        ("voucherify_webhooks", f, 5, "missing id: neither event.id nor id"),
        ("voucherify_webhooks", f, 6, "wrong type: created_at is not a timestamp: yesterday"),
        ("voucherify_webhooks", f, 7, f"oversized line: {len(lines[6])} bytes > 4096"),
        ("voucherify_webhooks", f, 9, "malformed JSON"),
    ]
    assert rejected(wh)[0][4] == lines[1]  # the snippet is the raw text
    assert [r[1:] for r in webhook_ids(wh)] == [(1, "ev_g0"), (3, "ev_g1"), (8, "ev_g2"), (10, "ev_g3")]
    assert (report.rows_loaded, report.rejected_total) == (4, 6)
    assert query(wh, "select rows_loaded, rows_rejected from raw.ingest_files") == [(4, 6)]


def test_truncated_gzip_keeps_the_lines_before_the_cut(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    records = [v2024(f"{i:04d}", "voucher.published", data={"n": i, "pad": "abc" * 20}) for i in range(2000)]
    blob = gzip.compress(ndjson(records).encode(), compresslevel=1)
    write(landing / "voucherify/webhooks/cut.ndjson.gz", blob[: len(blob) // 2])
    report = ingest(landing, wh)
    loaded = webhook_ids(wh)
    assert 0 < len(loaded) < 2000
    assert [r[2] for r in loaded] == [f"ev_{i:04d}" for i in range(len(loaded))]
    ((source, file, line, reason, snippet),) = rejected(wh)
    assert (source, file, line) == ("voucherify_webhooks", "voucherify/webhooks/cut.ndjson.gz", len(loaded) + 1)
    assert reason == "truncated gzip: file ends mid-stream"
    assert json.dumps(records[len(loaded)]).startswith(snippet)  # the cut-off record, as far as it decoded
    assert report.rejected_total == 1


def test_invalid_utf8_and_a_bad_line_in_a_large_file(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    records = [json.dumps(v2024(f"{i:06d}", "voucher.published", data={"pad": "y" * 300})) for i in range(30_000)]
    lines = [r.encode() for r in records]
    lines[10] = b'{"id": "whs_\xff\xfe"}'
    lines[20_000] = b"not json at all"
    write(landing / "voucherify/webhooks/large.ndjson", b"\n".join(lines) + b"\n")
    report = ingest(landing, wh)
    assert [(r[2], r[3]) for r in rejected(wh)] == [(11, "invalid UTF-8 at byte 12"), (20_001, "malformed JSON")]
    assert report.rows_loaded == 29_998
    off_by = query(
        wh, "select count(*) from raw.voucherify_webhooks where event_id <> 'ev_' || lpad((_line - 1)::varchar, 6, '0')"
    )
    assert off_by == [(0,)]


def test_bad_export_rows(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(
        landing / "voucherify/exports/redemption/e.csv",
        ["Id", "Date", "Order Amount", "Result"],
        [
            ["r_1", "2024-05-01T10:00:00Z", "100", "SUCCESS"],
            ["r_2", "2024-05-01T10:00:00Z", "100", "SUCCESS", "?", "?"],  # 2: two extra cells
            ["", "2024-05-01T10:00:00Z", "100", "SUCCESS"],  # 3: no id
            ["r_4", "2024-05-01T10:00:00Z", "ten", "SUCCESS"],  # 4: amount not a number
            ["r_5", "31/12/2024", "100", "SUCCESS"],  # 5: date not a timestamp
            ["r_6", "2024-05-01T10:00:00Z", "", "FAILURE"],
        ],
    )
    # an order export without id is keyed by source_id; one with neither has no key
    write_csv(landing / "voucherify/exports/order/no_id.csv", ["source_id", "amount"], [["o-1", "5"]])
    write_csv(landing / "voucherify/exports/order/no_key.csv", ["status", "amount"], [["PAID", "5"]])
    ingest(landing, wh)
    assert [r[1:4] for r in rejected(wh)] == [
        ("voucherify/exports/order/no_key.csv", 1, "missing key: no id or source_id column"),
        ("voucherify/exports/redemption/e.csv", 2, "wrong column count: expected 4, got 6"),
        ("voucherify/exports/redemption/e.csv", 3, "missing key: id"),
        ("voucherify/exports/redemption/e.csv", 4, "wrong type: order_amount is not a number: ten"),
        ("voucherify/exports/redemption/e.csv", 5, "wrong type: date is not a timestamp: 31/12/2024"),
    ]
    assert rejected(wh)[1][4] == "r_2,2024-05-01T10:00:00Z,100,SUCCESS,?,?"
    assert query(wh, "select record_id, _line from raw.voucherify_exports order by 2, 1") == [
        ("o-1", 1),
        ("r_1", 1),
        ("r_6", 6),
    ]


def test_bad_segment_rows_and_messages(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    write_csv(
        landing / "segment/warehouse/pos/tracks.csv",
        ["id", "user_id", "received_at", "timestamp", "event"],
        [
            ["m1", "u", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", "order_placed"],
            ["", "u", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", "order_placed"],
            ["m3", "u", "2024-05-01T10:00:00Z", "soon", "order_placed"],
            ["m4", "u", "2024-05-01T10:00:00Z"],
        ],
    )
    messages = [
        json.dumps({"messageId": "a1", "type": "track", "event": "X", "timestamp": "2024-05-01T10:00:00Z"}),
        '{"messageId": "a2", "type": "track", "event": ',
        json.dumps({"type": "track", "event": "X"}),
        json.dumps({"messageId": "a4", "type": "track", "event": "X", "timestamp": 12}),
    ]
    write(
        landing / "segment/archive/b/segment-logs/S1/1714521600000/o.gz",
        gzip.compress(("\n".join(messages) + "\n").encode()),
    )
    ingest(landing, wh)
    assert [r[:4] for r in rejected(wh)] == [
        ("segment_archive", "segment/archive/b/segment-logs/S1/1714521600000/o.gz", 2, "malformed JSON"),
        ("segment_archive", "segment/archive/b/segment-logs/S1/1714521600000/o.gz", 3, "missing id: messageId"),
        (
            "segment_archive",
            "segment/archive/b/segment-logs/S1/1714521600000/o.gz",
            4,
            "wrong type: timestamp is not a timestamp",
        ),
        ("segment_warehouse", "segment/warehouse/pos/tracks.csv", 2, "missing id"),
        ("segment_warehouse", "segment/warehouse/pos/tracks.csv", 3, "wrong type: timestamp is not a timestamp: soon"),
        ("segment_warehouse", "segment/warehouse/pos/tracks.csv", 4, "wrong column count: expected 5, got 3"),
    ]
    assert sorted(query(wh, "select message_id from raw.segment_events")) == [("a1",), ("m1",)]


def test_an_unreadable_file_is_quarantined_whole_and_not_retried(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    write(landing / "segment/warehouse/app/users.parquet", b"PAR1 this is not parquet")
    write(landing / "voucherify/webhooks/ok.ndjson", ndjson([v2024("1", "a.b")]))
    first = ingest(landing, wh)
    assert first.rows_loaded == 1 and first.rejected_total == 1
    ((source, file, line, reason, _),) = rejected(wh)
    assert (source, file, line) == ("segment_warehouse", "segment/warehouse/app/users.parquet", None)
    assert reason.startswith("unreadable file: ")
    again = ingest(landing, wh)
    assert again.files_loaded == 0 and again.rejected_total == 0


def test_several_large_files_with_bad_lines_in_one_transaction(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    for name, bad_line, bad in (
        ("a", 5, "[1]"),
        ("b", None, None),
        ("c", 9, "{oops"),
        ("d", 3, json.dumps({"no": "id"})),
    ):
        lines = [json.dumps(v2024(f"{name}{i:05d}", "voucher.published", data={"pad": "q" * 300})) for i in range(4000)]
        if bad_line:
            lines[bad_line - 1] = bad
        write(landing / f"voucherify/webhooks/{name}.ndjson", "\n".join(lines) + "\n")  # > 1 MB each: DuckDB's reader
    report = ingest(landing, wh)
    assert [(r[1], r[2], r[3]) for r in rejected(wh)] == [
        ("voucherify/webhooks/a.ndjson", 5, "not a JSON object"),
        ("voucherify/webhooks/c.ndjson", 9, "malformed JSON"),
        ("voucherify/webhooks/d.ndjson", 3, "missing id: neither event.id nor id"),
    ]
    assert report.rows_loaded == 4 * 4000 - 3
    assert query(wh, "select count(*), count(distinct event_id) from raw.voucherify_webhooks") == [(15_997, 15_997)]
    assert query(wh, "select file_path, rows_loaded, rows_rejected from raw.ingest_files order by 1") == [
        ("voucherify/webhooks/a.ndjson", 3999, 1),
        ("voucherify/webhooks/b.ndjson", 4000, 0),
        ("voucherify/webhooks/c.ndjson", 3999, 1),
        ("voucherify/webhooks/d.ndjson", 3999, 1),
    ]


def test_a_blank_line_in_one_large_file_does_not_shift_the_files_read_with_it(tmp_path):
    # DuckDB's reader numbers the rows of a group's files in one sequence and skips blank lines, so a
    # blank line in "a" would shift every line number of "b" and "c" if it went unnoticed.
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    for name in "abc":
        lines = [json.dumps(v2024(f"{name}{i:05d}", "voucher.published", data={"pad": "q" * 300})) for i in range(4000)]
        if name == "a":
            lines[99] = ""  # line 100 is blank
        if name == "c":
            lines[6] = "{oops"
        write(landing / f"voucherify/webhooks/{name}.ndjson", "\n".join(lines) + "\n")
    report = ingest(landing, wh)
    assert [(r[1], r[2], r[3]) for r in rejected(wh)] == [("voucherify/webhooks/c.ndjson", 7, "malformed JSON")]
    assert report.rows_loaded == 3 * 4000 - 2
    misplaced = query(
        wh,
        """select count(*) from raw.voucherify_webhooks
           where event_id <> 'ev_' || right(_file, 8)[1] || lpad((_line - 1)::varchar, 5, '0')""",
    )
    assert misplaced == [(0,)]


def test_large_gzip_files_with_a_bad_line_and_a_cut_off_end(tmp_path):
    import os

    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    lines = [
        json.dumps(v2024(f"g{i:05d}", "voucher.published", data={"pad": os.urandom(400).hex()})) for i in range(4000)
    ]
    lines[41] = '{"id": "whs_cut'
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    assert len(whole) > 1 << 20  # large enough for DuckDB's own reader
    write(landing / "voucherify/webhooks/whole.ndjson.gz", whole)
    write(landing / "voucherify/webhooks/cut.ndjson.gz", whole[: len(whole) * 3 // 4])
    report = ingest(landing, wh)
    got = [(r[1], r[2], r[3]) for r in rejected(wh)]
    assert got[:2] == [("voucherify/webhooks/cut.ndjson.gz", 42, "malformed JSON")] + [
        ("voucherify/webhooks/cut.ndjson.gz", got[1][1], "truncated gzip: file ends mid-stream")
    ] and got[2:] == [("voucherify/webhooks/whole.ndjson.gz", 42, "malformed JSON")]
    kept_of_cut = got[1][1] - 2  # the lines before the cut, less the bad one
    assert 2000 < kept_of_cut < 3999 and report.rows_loaded == 3999 + kept_of_cut
    misplaced = query(
        wh,
        "select count(*) from raw.voucherify_webhooks where event_id <> 'ev_g' || lpad((_line - 1)::varchar, 5, '0')",
    )
    assert misplaced == [(0,)]


def test_a_segment_csv_with_a_repeated_or_empty_column_name_loads_every_row(tmp_path):
    """The header is quarantined with what was renamed; every row loads with all its cells."""
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing / "segment/warehouse/pos/tracks/part-1.csv",
        "id,event,user_id,Event,,received_at\n"
        "m1,order_placed,u1,dup one,x,2024-05-01T10:00:00Z\n"
        "m2,order_placed,u2,dup two,y,2024-05-01T11:00:00Z\n",
    )
    report = ingest(landing, wh)
    assert report.rows_loaded == 2
    assert [r[:4] for r in rejected(wh)] == [
        (
            "segment_warehouse",
            "segment/warehouse/pos/tracks/part-1.csv",
            0,
            "bad header: column 4 repeats 'Event' (loaded as Event_2); column 5 has no name (loaded as column_5)",
        )
    ]
    rows = query(wh, "select message_id, event, user_id, payload from raw.segment_events order by message_id")
    assert [(m, e, u) for m, e, u, _ in rows] == [("m1", "order_placed", "u1"), ("m2", "order_placed", "u2")]
    assert json.loads(rows[1][3])["Event_2"] == "dup two" and json.loads(rows[1][3])["column_5"] == "y"


def test_bytes_that_are_not_utf8_in_a_csv_quarantine_that_row_never_a_replaced_copy(tmp_path):
    landing, wh = tmp_path / "landing", tmp_path / "w.duckdb"
    write(
        landing / "segment/warehouse/pos/tracks.csv",
        b"id,user_id,received_at,event\n"
        b"m1,u1,2024-05-01T10:00:00Z,caf\xc3\xa9\n"
        b"m2,u\xff\xfe2,2024-05-01T10:00:00Z,order_placed\n"
        b"m3,u3,2024-05-01T10:00:00Z,order_placed\n",
    )
    write(
        landing / "voucherify/exports/customer/c.csv",
        b"id,name,created_at\ncust_1,Zo\xe9,2024-05-01T10:00:00Z\ncust_2,Zo\xc3\xab,2024-05-01T10:00:00Z\n",
    )
    write(landing / "segment/warehouse/pos/pages.csv", b"id,na\xffme\nm9,x\n")
    ingest(landing, wh)
    assert [r[:4] for r in rejected(wh)] == [
        ("segment_warehouse", "segment/warehouse/pos/pages.csv", 0, "invalid UTF-8 in the header (column 2)"),
        ("segment_warehouse", "segment/warehouse/pos/tracks.csv", 2, "invalid UTF-8 in column 2 (user_id)"),
        ("voucherify_exports", "voucherify/exports/customer/c.csv", 1, "invalid UTF-8 in column 2 (name)"),
    ]
    assert rejected(wh)[1][4] == "m2,u\ufffd\ufffd2,2024-05-01T10:00:00Z,order_placed"
    assert query(wh, "select message_id, event_text from raw.segment_events order by 1") == [
        ("m1", None),
        ("m3", None),
    ]
    assert query(wh, "select record->>'name' from raw.voucherify_exports") == [("Zoë",)]
    assert query(wh, "select count(*) from raw.segment_events where payload::varchar like '%\ufffd%'") == [(0,)]
