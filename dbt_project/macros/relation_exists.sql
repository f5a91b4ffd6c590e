{#- True when a source's table exists in the warehouse (the plans stage may not be deployed yet). -#}
{% macro relation_exists(source_name, table_name) -%}
    {%- if not execute -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set src = source(source_name, table_name) -%}
    {%- set found = adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) -%}
    {{- return(found is not none) -}}
{%- endmacro %}
