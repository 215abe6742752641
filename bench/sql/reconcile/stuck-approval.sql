-- The bare-SQL floor of the stuck-approval reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select q.quote_id, q.tenant_id, q.status, q.current_version, q.updated_at, ar.approval_request_id,
  ar.status as approval_status, ar.policy_version, ar.created_at as approval_created_at, ar.due_at, now() - ar.due_at as overdue_by
  from cpq.quote q join cpq.approval_request ar on ar.quote_id = q.quote_id
  where q.status = 'PENDING_APPROVAL' and ar.status in ('PENDING', 'ESCALATED') and ar.due_at < now() order by ar.due_at asc;
