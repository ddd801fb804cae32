{#- Null ordering. DuckDB sorts nulls last in both directions; Spark sorts them first when ascending. A window's
    or a query's ORDER BY goes through nulls_last() so both engines order rows the same:
    `row_number() over (partition by k order by {{ nulls_last('received_at, message_id') }})`.
    DuckDB gets the text unchanged (its default already is nulls last). -#}

{% macro nulls_last(order_by) -%}
    {{ return(adapter.dispatch('nulls_last', 'loyalty')(order_by)) }}
{%- endmacro %}

{% macro default__nulls_last(order_by) -%}{{ order_by }}{%- endmacro %}

{% macro spark__nulls_last(order_by) -%}
    {%- for term in _order_terms(order_by) -%}
        {{ term.expr }}{{ ' desc' if term.descending else '' }}{{ ' nulls last' if term.nulls_last else ' nulls first' }}
        {%- if not loop.last %}, {% endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- An ORDER BY list split into terms: [{expr, descending, nulls_last}], at top-level commas only (a comma inside
    parentheses or quotes belongs to its term); a term's nulls sort last unless it says `nulls first`. -#}
{% macro _order_terms(order_by) -%}
    {%- set parts = [] -%}
    {%- set state = {'depth': 0, 'quoted': false, 'start': 0} -%}
    {%- for ch in order_by -%}
        {%- if ch == "'" -%}{%- do state.update({'quoted': not state.quoted}) -%}
        {%- elif not state.quoted and ch == '(' -%}{%- do state.update({'depth': state.depth + 1}) -%}
        {%- elif not state.quoted and ch == ')' -%}{%- do state.update({'depth': state.depth - 1}) -%}
        {%- elif not state.quoted and state.depth == 0 and ch == ',' -%}
            {%- do parts.append(order_by[state.start:loop.index0]) -%}{%- do state.update({'start': loop.index}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do parts.append(order_by[state.start:]) -%}
    {%- set terms = [] -%}
    {%- for part in parts -%}
        {%- set words = part.strip().split() -%}
        {%- set lowered = part.strip().lower().split() -%}
        {%- set nulls_last = true -%}
        {%- if lowered[-2:] == ['nulls', 'first'] or lowered[-2:] == ['nulls', 'last'] -%}
            {%- set nulls_last = lowered[-1] == 'last' -%}
            {%- set words = words[:-2] -%}{%- set lowered = lowered[:-2] -%}
        {%- endif -%}
        {%- set descending = lowered[-1] == 'desc' -%}
        {%- if lowered[-1] in ('asc', 'desc') -%}{%- set words = words[:-1] -%}{%- endif -%}
        {%- do terms.append({'expr': words | join(' '), 'descending': descending, 'nulls_last': nulls_last}) -%}
    {%- endfor -%}
    {{- return(terms) -}}
{%- endmacro %}
