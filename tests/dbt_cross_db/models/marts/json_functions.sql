-- The JSON macros over documents with every kind of value: strings, numbers as the vendors send them, nested
-- objects, arrays (of strings, objects, mixed), JSON null, absent keys, keys with dots, escapes (~ stands for a
-- backslash: Spark reads backslash escapes in SQL string literals, DuckDB does not, and the data never is a literal).
{%- set docs = [
    '{"a": "x", "n": {"b": 1, "c": [1, "x"]}}',
    '{"a": 1.50, "list": ["p", "q"], "objs": [{"k": 1}, {"k": 2}]}',
    '{"a": 12345678901234567890, "list": [], "objs": "[1]"}',
    '{"a": -7, "list": [null, "z"], "metadata.location_id": "store-9"}',
    '{"a": "~u00e9~n~"quoted~"", "n": {"b": null}, "list": "not a list"}',
    '{"a": true, "items": [{"amount": 1150, "sku": "s-1"}, {"amount": 250}]}',
    '{"a": null, "list": [1, 2.5, true]}',
    '{"a": 1e3, "n": {"b": {"deep": ["first", "second"]}}}',
    '{}',
] %}
{%- set paths = ['a', 'n', 'n.b', 'n.b.deep', 'n.b.deep[1]', 'list', 'list[0]', 'objs', 'objs[1].k', 'items', '"metadata.location_id"', 'missing.key'] %}
with

docs as (
    {%- for doc in docs %}
    select {{ loop.index }} as doc_id, replace('{{ doc | replace("'", "''") }}', '~', chr(92)) as doc
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
)

{%- for path in paths %}
select
    doc_id,
    '{{ path | replace("'", "''") }}' as path,
    {{ json_text('doc', path) }} as json_text,
    {{ json_value('doc', path) }} as json_value,
    {{ json_type_of('doc', path) }} as json_type,
    {{ json_array_size('doc', path) }} as array_size,
    {{ json_text_list('doc', path) }} as text_list,
    {{ json_value_list('doc', path) }} as value_list
from docs
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
