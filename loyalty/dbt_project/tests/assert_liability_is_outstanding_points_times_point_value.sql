-- agg_program_daily: the liability is the outstanding points times the value of a point, to the cent, and the
-- outstanding points are the ledger's running sum up to the end of the day.
with

ledger as (

    select
        day, sum(sum(points)) over (order by day asc nulls last rows between unbounded preceding and current row)
            as running_points
    from (select {{ utc_day('occurred_at') }} as day, points from {{ ref('fct_loyalty_points') }}) as rows_by_day
    group by day

)

select program.day, program.outstanding_points, program.point_value, program.liability_amount, ledger.running_points
from {{ ref('agg_program_daily') }} as program
left join ledger
    on program.day = ledger.day
where program.liability_amount <> round(program.outstanding_points * program.point_value, 2)
    or (ledger.day is not null and ledger.running_points <> program.outstanding_points)
