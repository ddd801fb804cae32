-- Unnesting JSON arrays into rows: a document's items, and a list built from a literal when there is no array.
with

docs as (
    select 1 as doc_id, '{"items": [{"sku": "a", "amount": 100}, {"sku": "b"}], "vouchers_id": ["v1", "v2"]}' as doc
    union all
    select 2, '{"items": [], "voucher": {"id": "v9"}}'
    union all
    select 3, '{"voucher": {"id": "v10"}}'
),

items as (
    select doc_id, {{ unnest_list(json_value_list('doc', 'items')) }} as item from docs
),

voucher_ids as (
    select
        doc_id,
        {{ unnest_list(
            "case when " ~ json_array_size('doc', 'vouchers_id') ~ " > 0 then " ~ json_text_list('doc', 'vouchers_id')
            ~ " else " ~ list_of([json_text('doc', 'voucher.id')]) ~ " end") }} as voucher_id
    from docs
)

select doc_id, 'item' as kind, {{ json_text('item', 'sku') }} as value, {{ cents_to_amount(json_text('item', 'amount')) }} as amount
from items
union all
select doc_id, 'voucher', voucher_id, null from voucher_ids
