{#- Spark's side of the JSON macros (macros/json.sql holds DuckDB's, as default__), and the JSON operations
    models still spell in DuckDB's dialect. Raw payloads are JSON text on Spark (a string column).

    json_text   → get_json_object: same text as DuckDB's json_extract_string for every kind of value
                  (numbers normalised alike: 1.50 → '1.5', 1e3 → '1000.0'; objects and arrays minified).
    json_value  → the value as JSON text, as DuckDB's json_extract gives it: objects and arrays as
                  get_json_object prints them (minified, keys in their order: VARIANT would sort them), strings
                  with their quotes (through VARIANT), JSON null → null. Types and arrays go through VARIANT,
                  which, unlike json_array_length on text, never mistakes the string "[1]" for an array. -#}

{#- A dotted path below the root ('data.order.id', '"metadata.location_id"' for a key with dots,
    'items[0].id'; none or '' for the root itself) as a JSONPath each engine reads, written to go inside a SQL
    string literal ('...'): Spark names a key with dots as [\'metadata.location_id\']. -#}
{% macro json_path(path) -%}
    {{ return(adapter.dispatch('json_path', 'loyalty')(path)) }}
{%- endmacro %}

{% macro default__json_path(path) -%}
    {{- '$' if not path else ('$' ~ path if path.startswith('[') else '$.' ~ path) -}}
{%- endmacro %}

{% macro spark__json_path(path) -%}
    {{- modules.re.sub('\\.?"([^"]*)"', "[\\\\'\\1\\\\']", default__json_path(path)) -}}
{%- endmacro %}

{% macro _spark_variant_at(doc, path) -%}
    variant_get(try_parse_json({{ doc }}), '{{ json_path(path) }}')
{%- endmacro %}

{#- get_json_object answers 'null' for a JSON null reached through an array index (DuckDB: null), so such paths
    check the value's type; plain key paths already give null. -#}
{% macro spark__json_text(doc, path) -%}
    {%- if '[' in (path or '') -%}
    case when schema_of_variant({{ _spark_variant_at(doc, path) }}) <> 'VOID' then get_json_object({{ doc }}, '{{ json_path(path) }}') end
    {%- else -%}
    get_json_object({{ doc }}, '{{ json_path(path) }}')
    {%- endif -%}
{%- endmacro %}

{% macro spark__json_value(doc, path) -%}
    case schema_of_variant({{ _spark_variant_at(doc, path) }})
        when 'STRING' then to_json({{ _spark_variant_at(doc, path) }})
        when 'VOID' then null
        else get_json_object({{ doc }}, '{{ json_path(path) }}')
    end
{%- endmacro %}

{% macro spark__json_text_list(doc, path) -%}
    coalesce(try_variant_get(try_parse_json({{ doc }}), '{{ json_path(path) }}', 'array<string>'), array())
{%- endmacro %}

{% macro spark__json_array_size(doc, path) -%}
    coalesce(array_size(try_variant_get(try_parse_json({{ doc }}), '{{ json_path(path) }}', 'array<variant>')), 0)
{%- endmacro %}

{#- The elements of the JSON array at `path` as a list of JSON values (objects stay JSON): unnest it in the model.
    Not an array, or absent: an empty list. Replaces `json_extract(doc, '$.path[*]')`. -#}
{% macro json_value_list(doc, path=none) -%}
    {{ return(adapter.dispatch('json_value_list', 'loyalty')(doc, path)) }}
{%- endmacro %}

{% macro default__json_value_list(doc, path=none) -%}
    json_extract({{ doc }}, '{{ json_path(path) }}[*]')
{%- endmacro %}

{% macro spark__json_value_list(doc, path=none) -%}
    coalesce(transform(
        try_variant_get(try_parse_json({{ doc }}), '{{ json_path(path) }}', 'array<variant>'),
        (v, i) -> case schema_of_variant(v)
            when 'STRING' then to_json(v)
            when 'VOID' then 'null'
            else element_at(from_json(get_json_object({{ doc }}, '{{ json_path(path) }}'), 'array<string>'), i + 1)
        end
    ), array())
{%- endmacro %}

{#- The JSON type of the value at `path` in DuckDB's names: ARRAY, OBJECT, VARCHAR, BOOLEAN, NULL (a JSON null),
    UBIGINT / BIGINT (whole numbers, non-negative / negative), DOUBLE; absent → null. Replaces `json_type(doc, '$.path')`. -#}
{% macro json_type_of(doc, path) -%}
    {{ return(adapter.dispatch('json_type_of', 'loyalty')(doc, path)) }}
{%- endmacro %}

{% macro default__json_type_of(doc, path) -%}
    json_type({{ doc }}, '{{ json_path(path) }}')
{%- endmacro %}

{% macro spark__json_type_of(doc, path) -%}
    case
        when {{ _spark_variant_at(doc, path) }} is null then null
        else case regexp_extract(schema_of_variant({{ _spark_variant_at(doc, path) }}), '^[A-Z]+', 0)
            when 'ARRAY' then 'ARRAY'
            when 'OBJECT' then 'OBJECT'
            when 'STRING' then 'VARCHAR'
            when 'BOOLEAN' then 'BOOLEAN'
            when 'VOID' then 'NULL'
            when 'DOUBLE' then 'DOUBLE'
            when 'FLOAT' then 'DOUBLE'
            else case
                when schema_of_variant({{ _spark_variant_at(doc, path) }}) rlike '^DECIMAL\\(\\d+,[1-9]'
                    or get_json_object({{ doc }}, '{{ json_path(path) }}') rlike '[.eE]' then 'DOUBLE'
                when get_json_object({{ doc }}, '{{ json_path(path) }}') like '-%' then 'BIGINT'
                else 'UBIGINT'
            end
        end
    end
{%- endmacro %}

{#- first_element_field (macros/event_cloud.sql) through json_text, whose array-index paths read a JSON null as null
    like DuckDB; text that is not JSON gives null, as DuckDB's try_cast does. -#}
{% macro spark__first_element_field(expr, field) -%}
    case when ltrim({{ expr }}) like '[%' then {{ json_text(expr, '[0].' ~ field) }} end
{%- endmacro %}
