-- How distinctively each occupation needs each O*NET element, over EVERY rated element (no importance
-- floor, unlike int_occupation_skills): what sets a target occupation apart is often an element rated
-- below "important" that other occupations need even less, and a module teaching it moves a user toward
-- that occupation. Planning input (plans/inputs.py).
-- - skills and knowledge: importance above the mean importance of the element over all occupations
--   (elements every job relies on, like Active Listening, weigh little), scaled so the occupation's most
--   distinctive element weighs 1;
-- - technologies: their importance (O*NET lists a technology only for the occupations that use it, so a
--   listed one is distinctive by itself; 0.75 flagged hot or in demand, 1 both). Both kinds are then on
--   the same 0-1 scale with 1 for the occupation's most telling element.
with onet_skills as (
    select * from {{ ref('stg_onet_skills') }}
),

elements as (
    select
        soc_code,
        skill_id,
        min(skill_kind) as skill_kind,
        max(coalesce(importance, 0.5))::double precision as importance
    from onet_skills
    group by soc_code, skill_id
),

occupations as (
    select count(distinct soc_code)::double precision as n_occupations from elements
),

norms as (
    select
        elements.skill_id,
        sum(elements.importance) / max(occupations.n_occupations) as mean_importance
    from elements
    cross join occupations
    group by elements.skill_id
),

above_norm as (
    select
        elements.soc_code,
        elements.skill_id,
        elements.skill_kind,
        elements.importance,
        greatest(elements.importance - norms.mean_importance, 0) as above_mean
    from elements
    inner join norms on elements.skill_id = norms.skill_id
),

scaled as (
    select
        soc_code,
        skill_id,
        skill_kind,
        importance,
        above_mean,
        max(above_mean) filter (where skill_kind <> 'technology') over (partition by soc_code) as most_distinctive
    from above_norm
),

weighted as (
    select
        soc_code,
        skill_id,
        skill_kind,
        importance,
        case
            when skill_kind = 'technology' then importance
            else above_mean / nullif(most_distinctive, 0)
        end as distinctive_weight
    from scaled
)

select
    soc_code,
    skill_id,
    skill_kind,
    importance,
    distinctive_weight
from weighted
where distinctive_weight > 0
