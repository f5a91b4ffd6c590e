-- Quarantined rows and files by delivery day, source and rule: what broke, where, how often.
with quarantine as (
    select * from {{ source('ops', 'quarantine') }}
),

files as (
    select
        file_id,
        partition_date
    from {{ source('ops', 'file_manifest') }}
)

select
    files.partition_date,
    quarantine.source,
    quarantine.rule,
    count(*) filter (where quarantine.line is not null)::integer as rows_quarantined,
    count(*) filter (where quarantine.line is null)::integer as files_rejected,
    count(distinct quarantine.file_id)::integer as files
from quarantine
inner join files on quarantine.file_id = files.file_id
group by files.partition_date, quarantine.source, quarantine.rule
