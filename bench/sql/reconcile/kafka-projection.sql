-- The bare-SQL floor of the kafka-projection reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select o.order_id from oms.sales_order o left join oms.order_projection p on p.order_id = o.order_id
  where p.order_id is null or p.aggregate_version <> o.version or p.status <> o.status;
