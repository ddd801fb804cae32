{#- Your models land in the schema they name (marts, ...) like the shipped ones, not <target>_<name>. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{- loyalty.generate_schema_name(custom_schema_name, node) -}}
{%- endmacro %}
