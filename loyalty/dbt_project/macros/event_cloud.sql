{#- Voucherify as a Segment source ("Event Cloud"). Segment's documentation shows two generations of it:
    - "Customer Redemption Succeeded", "Customer Publication Succeeded", …: the event's objects (redemption,
      order, voucher, promotion_tier, publication, customer, campaign, …) as properties, which the warehouse
      flattens with the object's name as prefix: `redemption_id`, `order_applied_discount_amount`,
      `publication_created_at`;
    - "Redemption succeeded", "Publication succeeded", …: the whole Voucherify event in ONE object property,
      `voucherifyEvent` {id, type, data: {redemption, order, voucher, …}, created_at}, flattened the same way:
      `voucherify_event_data_redemption_id`. Older events put the main resource in `data.object`
      (`voucherify_event_data_object_id`).
    `event_cloud_text('redemption_id', 'redemption')` reads a property in either generation: the flattened
    name, the same name under `voucherify_event_data_`, and (given the main object's name) the `data.object`
    form. Arrays arrive as JSON text. -#}
{% macro event_cloud_text(path, main_object=none) -%}
    coalesce(
        {{ event_cloud_property(path) }},
        {{ event_cloud_property('voucherify_event_data_' ~ path) }}
        {%- if main_object is not none and path.startswith(main_object ~ '_') %},
        {{ event_cloud_property('voucherify_event_data_object_' ~ path[(main_object | length) + 1:]) }}
        {%- endif %}
    )
{%- endmacro %}

{#- The message's top-level properties in the form each engine reads many of them from cheaply
    (int_segment_events_identified.event_cloud_properties). A model reads a hundred or more Event Cloud
    properties per message: on DuckDB each json_extract_string parses the whole document again and keeps it
    until the chunk is done (300 reads of 39,493 messages: 3.3 GB and 10.5 s), so the document is parsed once
    into a map of its keys' texts (175 MB, 1.2 s), which gives json_extract_string's text for every kind of
    value. A key sent twice reads as null there (json_extract_string takes the first). -#}
{% macro event_cloud_properties(properties) -%}
    {{ return(adapter.dispatch('event_cloud_properties', 'loyalty')(properties)) }}
{%- endmacro %}

{% macro default__event_cloud_properties(properties) -%}
    json_transform({{ properties }}, '"MAP(VARCHAR, VARCHAR)"')
{%- endmacro %}

{% macro spark__event_cloud_properties(properties) -%}
    {{ properties }}
{%- endmacro %}

{#- One top-level property (a plain key: Event Cloud flattens nested objects into underscored names). -#}
{% macro event_cloud_property(key) -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9_]+', key) -%}
        {{ exceptions.raise_compiler_error("event_cloud_property takes a plain key, got: " ~ key) }}
    {%- endif -%}
    {{ return(adapter.dispatch('event_cloud_property', 'loyalty')(key)) }}
{%- endmacro %}

{% macro default__event_cloud_property(key) -%}
    event_cloud_properties['{{ key }}']
{%- endmacro %}

{% macro spark__event_cloud_property(key) -%}
    {{ json_text('event_cloud_properties', key) }}
{%- endmacro %}

{#- The first of several Event Cloud properties that is present (each read in both generations). -#}
{% macro event_cloud_first(paths, main_object=none) -%}
    coalesce(
    {%- for path in paths %}
        {{ event_cloud_text(path, main_object) }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    )
{%- endmacro %}

{#- A flattened free-form value that may be text or an array stringified by Segment ('["Paris"]', '[]'):
    the text, or the array's first element. -#}
{% macro text_or_first_element(expr) -%}
    case
        when ltrim({{ expr }}) like '[%' then nullif(trim({{ json_text(dbt.safe_cast(expr, 'json'), '[0]') }}), '')
        else nullif(trim({{ expr }}), '')
    end
{%- endmacro %}

{#- A field of the first object of an array Segment stringified into one column ('[{"id": "CODE", …}]'), e.g. the
    code of a validation's first redeemable; null when the text is not such an array. -#}
{% macro first_element_field(expr, field) -%}
    {{ return(adapter.dispatch('first_element_field', 'loyalty')(expr, field)) }}
{%- endmacro %}

{% macro default__first_element_field(expr, field) -%}
    case when ltrim({{ expr }}) like '[%' then json_extract_string(try_cast({{ expr }} as json), '$[0].{{ field }}') end
{%- endmacro %}

{#- The discount a redemption applied, from the order object Event Cloud flattened (top-level `order_…` or the
    redemption's own `redemption_order_…`), by the rule of macros/voucherify_objects.sql applied_discount. -#}
{% macro event_cloud_applied_discount() -%}
    {%- set fields = ['total_applied_discount_amount', 'applied_discount_amount', 'items_applied_discount_amount',
                      'total_discount_amount', 'discount_amount', 'items_discount_amount'] -%}
    {%- set amounts = [] -%}
    {%- for field in fields -%}
        {%- do amounts.append(cents_to_amount(event_cloud_first(['redemption_order_' ~ field, 'order_' ~ field], 'redemption'))) -%}
    {%- endfor -%}
    {{ applied_discount(amounts[0], amounts[1], amounts[2], amounts[3], amounts[4], amounts[5]) }}
{%- endmacro %}
