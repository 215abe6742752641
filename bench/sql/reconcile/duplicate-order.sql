-- The bare-SQL floor of the duplicate-order reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select tenant_id, source_quote_id, count(*) as order_count, array_agg(order_id order by created_at) as order_ids,
  min(created_at) as first_created_at, max(created_at) as last_created_at
  from oms.sales_order where source_quote_id is not null
  group by tenant_id, source_quote_id having count(*) > 1 order by last_created_at desc;
