{#- Post-hook: refresh planner statistics of the table a model just built (views have none). -#}
{% macro analyze_built_table() -%}
    {%- if model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
