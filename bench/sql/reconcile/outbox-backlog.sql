-- The bare-SQL floor of the outbox-backlog reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select aggregate_type, event_type, count(*) as pending_count, min(created_at) as oldest_pending,
  max(created_at) as newest_pending from messaging.outbox_event
  where published_at is null and status in ('PENDING', 'FAILED') group by aggregate_type, event_type
  union all
  select aggregate_type, event_type, count(*), min(claimed_at), max(claimed_at) from messaging.outbox_event
  where status = 'PROCESSING' and claimed_at < now() - interval '10 minutes' group by aggregate_type, event_type;
