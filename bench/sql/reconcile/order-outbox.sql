-- The bare-SQL floor of the order-outbox reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select t.order_id from oms.order_transition t where not exists (
  select 1 from messaging.outbox_event e where e.aggregate_id = t.order_id and e.aggregate_version = t.order_version);
