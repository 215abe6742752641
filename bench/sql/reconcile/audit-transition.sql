-- The bare-SQL floor of the audit-transition reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select o.order_id from oms.sales_order o
  where o.version is distinct from (select max(t.order_version) from oms.order_transition t where t.order_id = o.order_id)
  union all
  select q.quote_id from cpq.quote q
  where q.version is distinct from (select max(t.row_version) from cpq.quote_transition t where t.quote_id = q.quote_id);
