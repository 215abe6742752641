-- The bare-SQL floor of the stuck-order reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select o.order_id, o.tenant_id, o.order_number, o.status, o.version, o.created_at, o.updated_at,
  now() - o.updated_at as age_since_update, count(ol.order_line_id) as line_count
  from oms.sales_order o join oms.sales_order_line ol on ol.order_id = o.order_id
  where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
  and o.updated_at < now() - interval '30 minutes'
  group by o.order_id order by age_since_update desc;
