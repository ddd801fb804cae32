{{ config(enabled=target.type == 'spark', schema='checks') }}
-- Spark only: the bucket each key of bucketed_inputs falls in (macros/cross_db/incremental.sql), so the test can
-- tell which paths of the bucket overwrite the incremental round took.
select k, {{ key_bucket('k') }} as bucket from {{ ref('bucketed_inputs') }}
