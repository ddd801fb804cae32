{#- JSON access to raw payloads. Staging reads every field through these so that an absent key is a
    null (never an error) and a new key never breaks a model. Dispatched so another adapter can
    supply its own JSON functions. `path` is a dotted path below the document root, e.g. 'data.order.id'. -#}

{% macro json_text(doc, path) -%}
    {{ return(adapter.dispatch('json_text', 'loyalty')(doc, path)) }}
{%- endmacro %}

{% macro default__json_text(doc, path) -%}
    json_extract_string({{ doc }}, '{{ json_path(path) }}')
{%- endmacro %}

{#- The JSON value at `path` (an object, array or scalar), still as JSON. -#}
{% macro json_value(doc, path) -%}
    {{ return(adapter.dispatch('json_value', 'loyalty')(doc, path)) }}
{%- endmacro %}

{% macro default__json_value(doc, path) -%}
    nullif(json_extract({{ doc }}, '$.{{ path }}'), 'null'::json)
{%- endmacro %}

{#- Text elements of a JSON array at `path`, as a list column (unnest it in the model). -#}
{% macro json_text_list(doc, path) -%}
    {{ return(adapter.dispatch('json_text_list', 'loyalty')(doc, path)) }}
{%- endmacro %}

{% macro default__json_text_list(doc, path) -%}
    json_extract_string({{ doc }}, '$.{{ path }}[*]')
{%- endmacro %}

{#- Number of elements of a JSON array at `path` (0 when absent or not an array). -#}
{% macro json_array_size(doc, path) -%}
    {{ return(adapter.dispatch('json_array_size', 'loyalty')(doc, path)) }}
{%- endmacro %}

{% macro default__json_array_size(doc, path) -%}
    coalesce(json_array_length({{ doc }}, '{{ json_path(path) }}'), 0)
{%- endmacro %}

{#- A free-form field that may hold a string or an array of strings (order.metadata.location_id has been
    seen as both): the string, or the first element of the array. -#}
{% macro json_text_or_first(doc, path) -%}
    coalesce(
        case when {{ json_type_of(doc, path) }} = 'ARRAY' then {{ json_text(doc, path ~ '[0]') }} end,
        case when {{ json_type_of(doc, path) }} <> 'ARRAY' then nullif(trim({{ json_text(doc, path) }}), '') end
    )
{%- endmacro %}
