{#- Folder schemas are used verbatim (staging, intermediate, features, marts_build): the schemas are
    created by core/ddl.sql and granted to roles there, so a target prefix would miss the grants. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
