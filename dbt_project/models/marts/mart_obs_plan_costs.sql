-- Per night: plans written, provider mix, cache hits, fallbacks, tokens and cost of every LLM attempt.
-- Empty (with its columns) until the plans stage is deployed.
{%- set has_calls = relation_exists('plans', 'llm_calls') %}
{%- set has_plans = relation_exists('plans', 'plan_versions') %}
{% if has_calls and has_plans %}
    with llm_calls as (
        select * from {{ source('plans', 'llm_calls') }}
    ),

    plan_versions as (
        select * from {{ source('plans', 'plan_versions') }}
    ),

    per_call as (
        select
            as_of_date,
            count(*)::integer as llm_calls,
            count(*) filter (where cache_hit)::integer as cache_hits,
            sum(tokens_in)::bigint as tokens_in,
            sum(tokens_out)::bigint as tokens_out,
            sum(cost_usd)::numeric(14, 6) as cost_usd
        from llm_calls
        group by as_of_date
    ),

    providers as (
        select
            as_of_date,
            jsonb_object_agg(provider_name, attempts) as provider_mix
        from (
            select
                as_of_date,
                coalesce(provider, 'none') as provider_name,
                count(*) as attempts
            from llm_calls
            group by as_of_date, coalesce(provider, 'none')
        ) as by_provider
        group by as_of_date
    ),

    per_plan as (
        select
            as_of_date,
            count(*)::integer as plans_written,
            count(*) filter (where fallback_reason is not null)::integer as fallbacks
        from plan_versions
        group by as_of_date
    )

    select
        per_plan.as_of_date,
        per_plan.plans_written,
        per_plan.fallbacks,
        coalesce(per_call.llm_calls, 0) as llm_calls,
        coalesce(per_call.cache_hits, 0) as cache_hits,
        providers.provider_mix,
        per_call.tokens_in,
        per_call.tokens_out,
        per_call.cost_usd,
        (per_call.cost_usd / nullif(per_plan.plans_written, 0))::numeric(14, 6) as cost_per_plan_usd
    from per_plan
    left join per_call on per_plan.as_of_date = per_call.as_of_date
    left join providers on per_plan.as_of_date = providers.as_of_date
{% else %}
    select
        null::date as as_of_date,
        null::integer as plans_written,
        null::integer as fallbacks,
        null::integer as llm_calls,
        null::integer as cache_hits,
        null::jsonb as provider_mix,
        null::bigint as tokens_in,
        null::bigint as tokens_out,
        null::numeric(14, 6) as cost_usd,
        null::numeric(14, 6) as cost_per_plan_usd
    where false
{% endif %}
