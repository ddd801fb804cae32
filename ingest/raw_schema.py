"""The raw layer: the contract between ingest (writer) and the dbt staging models (readers).

Every raw table keeps the record's original payload as JSON next to a few extracted keys and
its lineage (_file, _line, _batch_id, _ingested_at). Staging reads only these tables.
"""

RAW_SCHEMA = "raw"

DDL = """
create schema if not exists raw;

-- One row per file ever loaded, with the content hash that makes re-runs idempotent.
create table if not exists raw.ingest_files (
    file_path      varchar not null,   -- path relative to the landing folder
    source         varchar not null,   -- a source name of the registry in ingest/landing.py
    size_bytes     bigint not null,
    content_hash   varchar not null,
    batch_id       varchar not null,
    rows_loaded    bigint not null,
    rows_rejected  bigint not null,
    loaded_at      timestamptz not null
);

-- One row per `loyalty ingest` invocation.
create table if not exists raw.ingest_batches (
    batch_id       varchar primary key,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    status         varchar not null,   -- running | succeeded | failed
    files_loaded   bigint,
    rows_loaded    bigint,
    rows_rejected  bigint
);

-- One row per webhook delivery as received (duplicates kept; staging deduplicates).
create table if not exists raw.voucherify_webhooks (
    event_id           varchar,        -- event.id (v2024) or id (v2018 legacy)
    delivery_id        varchar,        -- envelope id whs_… (v2024) else null
    webhook_source_id  varchar,        -- source.id wh_…/distr_… (v2024) or webhook_id (v2018)
    source_object      varchar,        -- webhook | distribution (v2024) else null
    envelope           varchar,        -- v2024 | v2018
    event_type         varchar,        -- canonical name: event.type, else top-level type
    type_as_sent       varchar,        -- top-level type (free text on distributions)
    created_at         timestamptz,    -- event.created_at, else created_at
    payload            json,           -- the whole delivery body
    _file              varchar,
    _line              bigint,         -- 1-based line (1 for a one-body .json file)
    _batch_id          varchar,
    _ingested_at       timestamptz
);

-- One row per CSV data row of a Voucherify export (any exported_object).
create table if not exists raw.voucherify_exports (
    -- exported_object: redemption | voucher_transactions | order | customer | publication | voucher | points_expiration
    exported_object  varchar,
    record_id        varchar,          -- the row's key: id, or what the export carries (exports.py EXPORT_KEYS)
    record           json,             -- {normalised_header: text value}; headers lower-cased, spaces → _
    _file            varchar,
    _line            bigint,           -- 1-based data row number (header is row 0)
    _batch_id        varchar,
    _ingested_at     timestamptz
);

-- One row per object pulled from a Voucherify list endpoint (`loyalty pull voucherify`),
-- landed as <landing>/voucherify/api/<endpoint>/**/*.ndjson, one API object per line.
create table if not exists raw.voucherify_api_objects (
    endpoint         varchar,          -- redemptions | loyalty_transactions | …
    object_id        varchar,          -- the object's id (r_…, vtx_…)
    object_type      varchar,          -- the object's `object` field
    created_at       timestamptz,      -- created_at, else date
    payload          json,             -- the object as the API returned it
    _file            varchar,
    _line            bigint,
    _batch_id        varchar,
    _ingested_at     timestamptz
);

-- One row per Segment message: warehouse dump rows and raw-archive messages alike.
create table if not exists raw.segment_events (
    origin          varchar,           -- warehouse | archive
    source_schema   varchar,           -- warehouse schema folder, or archive source id
    table_name      varchar,           -- tracks, identifies, users, pages, <snake_case event>, …
    message_id      varchar,           -- id / messageId (users: the user id)
    type            varchar,           -- track | identify | page | screen | group | alias | user
    event           varchar,           -- snake_case event slug (tracks)
    event_text      varchar,           -- original event name (tracks)
    user_id         varchar,
    anonymous_id    varchar,
    "timestamp"     timestamptz,
    received_at     timestamptz,
    -- properties: properties/traits flattened with warehouse column names (snake_case, parent_child)
    properties      json,
    payload         json,              -- the original row or message
    _file           varchar,
    _line           bigint,
    _batch_id       varchar,
    _ingested_at    timestamptz
);

-- Quarantine: every record that could not be loaded, with where it came from and why.
create table if not exists raw.rejected_records (
    source        varchar not null,
    file_path     varchar not null,
    line          bigint,
    reason        varchar not null,
    snippet       varchar,             -- first 500 characters of the raw text
    _batch_id     varchar,
    rejected_at   timestamptz not null
);
"""
