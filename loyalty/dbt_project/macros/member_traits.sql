{#- Computed traits on marts.dim_members, like Segment's computed traits: each entry becomes a column.
    The list below ships with the tool. A project of your own (`loyalty init`) adds traits with the var
    `extra_member_traits`, or replaces this list with the var `member_traits`, in its dbt_project.yml.

    Each entry: name (the column), description, and one of
      sql:     a SQL expression over the member's metrics (any column of dim_members above the traits,
               e.g. orders_count, lifetime_order_amount, distinct_locations_visited, points_balance)
      product: a product's SKU (order item source_id), product id or name → how many paid orders contained it
-#}
{% macro member_traits() %}
    {{ return(var('member_traits', [
        {"name": "visited_3_plus_locations",
         "description": "Paid orders in at least 3 different stores.",
         "sql": "distinct_locations_visited >= 3"},
        {"name": "total_order_amount",
         "description": "Sum of total_amount over paid orders (same as lifetime_order_amount, under Segment's name).",
         "sql": "lifetime_order_amount"},
        {"name": "times_bought_star_thermal_bottle",
         "description": "Paid orders that contained the Star Thermal Bottle (SKU star-th-bottle).",
         "product": "star-th-bottle"},
        {"name": "times_bought_cold_brew_kit",
         "description": "Paid orders that contained the Cold Brew Kit (SKU cold-brew).",
         "product": "cold-brew"},
    ]) + var('extra_member_traits', [])) }}
{% endmacro %}
