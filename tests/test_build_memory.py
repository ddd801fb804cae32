"""The full build keeps under a DuckDB memory cap. A model that parses a JSON document once per field it reads
holds every parse of a 2,048-row chunk at once, memory no cap can spill (see macros/event_cloud.sql)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from loyalty.build import BuildFailed, build

# The generated world sends ~200 Event Cloud messages: too few to fill a chunk. Copies with new ids fill several.
EVENT_CLOUD_COPIES = 25
# Measured on this world: the build passes under 150MB. With one parse per Event Cloud property (the models before
# commit b9e06b1) it failed under 500MB, and peaked at 1.4 GB without a cap.
MEMORY_CAP = "250MB"


@pytest.fixture()
def world_with_many_event_cloud_messages(built_world, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """
            insert into raw.segment_events
            select events.* replace (message_id || '~' || copy as message_id)
            from raw.segment_events as events, range(1, ?) as copies(copy)
            where source_schema = 'voucherify'
            """,
            [EVENT_CLOUD_COPIES],
        )
        copied = con.execute("select count(*) from raw.segment_events where message_id like '%~%'").fetchone()[0]
    assert copied >= 2 * 2048
    return warehouse


def test_full_build_keeps_under_a_memory_cap(world_with_many_event_cloud_messages, monkeypatch):
    warehouse = world_with_many_event_cloud_messages
    # The cap is really applied: far below what any build needs, the build runs out of memory.
    monkeypatch.setenv("LOYALTY_DUCKDB_MEMORY_LIMIT", "5MB")
    with pytest.raises(BuildFailed):
        build(warehouse, full_refresh=True)

    monkeypatch.setenv("LOYALTY_DUCKDB_MEMORY_LIMIT", MEMORY_CAP)
    result = build(warehouse, full_refresh=True)

    assert not result.failed
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # The copies went through the Event Cloud readers (each copy is a message of its own).
        copies_read = con.execute(
            "select count(*) from intermediate.int_segment_events_identified where message_id like '%~%'"
        ).fetchone()[0]
    assert copies_read > 0
