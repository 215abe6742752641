-- The bare-SQL floor of the order-engine reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md). The engine's paging (the check's REST reads) is measured
-- by opsdeck-bench and added to this floor. Both kinds the check reports without a process: a start the
-- platform recorded (STARTED) and one it gave up on (GAVE_UP).
select o.order_id from oms.sales_order o join oms.orchestration_start s on s.order_id = o.order_id
  where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED') and s.status in ('STARTED', 'GAVE_UP');
