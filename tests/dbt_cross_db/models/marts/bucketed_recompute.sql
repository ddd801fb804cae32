{{ config(
    materialized='incremental',
    unique_key='k',
    incremental_strategy=recompute_strategy(),
    partition_by=key_bucket_partition(),
    post_hook="{{ delete_rows_where('k in (select k from ' ~ ref('bucketed_inputs') ~ ' where dropped)') }}"
) }}
-- A model that recomputes touched keys (macros/cross_db/incremental.sql): after round 2 it must hold exactly what a
-- full refresh gives, on both engines: changed keys recomputed, new keys added, deleted keys gone (on Spark also
-- those alone in their bucket, which no overwrite reaches), untouched keys kept.
with

inputs as (

    select * from {{ ref('bucketed_inputs') }}

),

touched as (

    select k from inputs
    {% if is_incremental() %}
    where changed_in_round = {{ var('round') }}
    {% endif %}

),

final as (

    select inputs.k, inputs.v
    from inputs
    inner join touched
        on inputs.k = touched.k
    where not inputs.dropped

)

{%- set dropped %}select k from {{ ref('bucketed_inputs') }} where dropped{% endset %}
{{ recomputed_rows('final', 'k', touched='touched', removed=dropped) }}
