-- The bare-SQL floor of the quote-order reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select q.tenant_id, q.quote_id, q.status, q.accepted_at, count(o.order_id) as order_count
  from cpq.quote q left join oms.sales_order o on o.tenant_id = q.tenant_id and o.source_quote_id = q.quote_id
  where q.status = 'ACCEPTED' and q.accepted_at < now() - interval '5 minutes'
  group by q.tenant_id, q.quote_id, q.status, q.accepted_at having count(o.order_id) <> 1;
