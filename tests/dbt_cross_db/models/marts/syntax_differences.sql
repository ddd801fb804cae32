-- LIKE with a backslash escape, a CTE that must stay inline, a reserved word as a column name, lists.
with

ids {{ as_not_materialized() }} (
    select 'vtx_1' as id, 1 as n
    union all select 'vtxa', 2
    union all select 'CREDITS_ADDITION', 3
    union all select 'CREDITSX', 4
    union all select null, 5
),

stamped as (
    select id, n, cast('2024-05-06T07:08:09Z' as {{ type_timestamptz() }}) as {{ adapter.quote('timestamp') }} from ids
)

select
    id,
    n,
    {{ adapter.quote('timestamp') }} as occurred_at,
    case when {{ like_escaped('id', 'vtx\\_%') }} then 'v1' else 'v2' end as program_version,
    not ({{ like_escaped("coalesce(id, '')", 'CREDITS\\_%') }}) as is_not_credit
from stamped
