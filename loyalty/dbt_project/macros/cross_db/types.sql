{#- Types and casts on Spark (macros/types.sql holds the marts' type contract and DuckDB's casts).

    Spark has one TIMESTAMP: an instant, shown in the session time zone (UTC, set by loyalty/engines/spark.py),
    written to Parquet as a UTC-adjusted timestamp that DuckDB reads back as TIMESTAMPTZ. JSON is text. -#}

{% macro spark__type_timestamptz() -%}timestamp{%- endmacro %}

{#- JSON documents as a column type: `cast(null as {{ type_json() }})`. -#}
{% macro type_json() -%}
    {{ return(adapter.dispatch('type_json', 'loyalty')()) }}
{%- endmacro %}

{% macro default__type_json() -%}json{%- endmacro %}

{% macro spark__type_json() -%}string{%- endmacro %}

{#- Text, for casts: `cast(_line as {{ type_text() }})`; with a length, DuckDB's varchar(n) (Spark: string). -#}
{% macro type_text(length=none) -%}
    {{ return(adapter.dispatch('type_text', 'loyalty')(length)) }}
{%- endmacro %}

{% macro default__type_text(length=none) -%}varchar{%- if length is not none -%}({{ length }}){%- endif -%}{%- endmacro %}

{% macro spark__type_text(length=none) -%}string{%- endmacro %}

{#- A cast that gives null on a bad value, as DuckDB's try_cast (macros/types.sql), value for value:
    - whole-number types round text with decimals half away from zero ('2.5' → 3), and read '1e3';
    - dates and timestamps need a whole date (Spark alone would read '1150' as the year 1150) and timestamps
      also accept ISO text without seconds ('2024-01-02T03:04Z');
    - json stays text (invalid JSON then reads as null through the json macros, as DuckDB's null does);
    - booleans are exactly DuckDB's words in any case (true/t/yes/y/1, false/f/no/n/0), never trimmed. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- set spark_type = type | lower | trim -%}
    {%- if spark_type in ('bigint', 'int', 'integer', 'smallint', 'tinyint') -%}
    try_cast(round(try_cast({{ field }} as decimal(38, 9))) as {{ spark_type }})
    {%- elif spark_type == 'timestamp' -%}
    case when {{ field }} rlike '^\\s*\\d{4}-\\d{1,2}-\\d{1,2}' then coalesce(
        try_cast({{ field }} as timestamp),
        try_cast(regexp_replace({{ field }}, '^(\\s*\\d{4}-\\d{1,2}-\\d{1,2}[T ]\\d{1,2}:\\d{2})(\\s*(Z|[+-]\\d.*)?\\s*)$', '$1:00$2') as timestamp)
    ) end
    {%- elif spark_type == 'date' -%}
    case when {{ field }} rlike '^\\s*\\d{4}-\\d{1,2}-\\d{1,2}' then try_cast({{ field }} as date) end
    {%- elif spark_type == 'json' -%}
    try_cast({{ field }} as string)
    {%- elif spark_type == 'boolean' -%}
    case when lower({{ field }}) in ('true', 't', 'yes', 'y', '1') then true
        when lower({{ field }}) in ('false', 'f', 'no', 'n', '0') then false end
    {%- else -%}
    try_cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}

{#- dbt-spark's dateadd goes through unix seconds and drops the fraction; timestampadd keeps microseconds,
    as DuckDB's interval arithmetic does. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- A timestamptz as text, exactly as DuckDB casts one in the UTC session ('2024-01-01 10:00:00.5+00': fraction
    without trailing zeros, '+00'), for keys built from times: `{{ timestamp_text('_ingested_at') }}`. -#}
{% macro timestamp_text(expr) -%}
    {{ return(adapter.dispatch('timestamp_text', 'loyalty')(expr)) }}
{%- endmacro %}

{% macro default__timestamp_text(expr) -%}cast({{ expr }} as varchar){%- endmacro %}

{% macro spark__timestamp_text(expr) -%}(cast({{ expr }} as string) || '+00'){%- endmacro %}

{#- Milliseconds since the epoch of a timestamptz, as DuckDB's epoch_ms: microseconds rounded half away from zero. -#}
{% macro epoch_ms(expr) -%}
    {{ return(adapter.dispatch('epoch_ms', 'loyalty')(expr)) }}
{%- endmacro %}

{% macro default__epoch_ms(expr) -%}epoch_ms({{ expr }}){%- endmacro %}

{% macro spark__epoch_ms(expr) -%}
    cast(round(cast(unix_micros({{ expr }}) as decimal(20, 0)) / 1000, 0) as bigint)
{%- endmacro %}

{#- exact_rate (macros/types.sql) with Spark's integer division, `div` (DuckDB's `//`). -#}
{% macro spark__exact_rate(numerator, denominator) -%}
    case when {{ denominator }} > 0 then
        cast(
            cast((20000 * ({{ numerator }}) + ({{ denominator }})) div (2 * ({{ denominator }})) as decimal(18, 0))
            * 0.0001 as decimal(9, 4)
        )
    end
{%- endmacro %}

{#- Spark has no 128-bit integer: a whole-number decimal as wide (38 digits) holds the same products. -#}
{% macro spark__type_wide_integer() -%}decimal(38, 0){%- endmacro %}

{#- exact_ratio (macros/economics.sql) with Spark's integer division, `div`, and the sign taken by a case (Spark's
    sign() is a double). -#}
{% macro spark__exact_ratio(numerator, denominator, scale) -%}
    {%- set n = "cast(" ~ numerator ~ " as " ~ type_wide_integer() ~ ")" -%}
    {%- set d = "cast(" ~ denominator ~ " as " ~ type_wide_integer() ~ ")" -%}
    case when {{ d }} > 0 then
        cast(
            cast(case when {{ n }} < 0 then -1 else 1 end
                * ((2 * {{ 10 ** scale }} * abs({{ n }}) + {{ d }}) div (2 * {{ d }})) as decimal(38, 0))
            * {{ '0.' ~ '0' * (scale - 1) ~ '1' }} as decimal(18, {{ scale }}))
    end
{%- endmacro %}

{#- DuckDB's date_diff for the date parts the models use, as whole numbers (bigint): days between two dates, and
    month boundaries crossed (dbt-spark's days are an int, its months count from months_between). -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
    cast(datediff({{ second_date }}, {{ first_date }}) as bigint)
    {%- elif datepart == 'month' -%}
    cast((year({{ second_date }}) * 12 + month({{ second_date }})) - (year({{ first_date }}) * 12 + month({{ first_date }})) as bigint)
    {%- else -%}
    {{ exceptions.raise_compiler_error("datediff by " ~ datepart ~ " has no Spark form in this project yet") }}
    {%- endif -%}
{%- endmacro %}
