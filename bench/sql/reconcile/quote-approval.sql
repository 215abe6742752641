-- The bare-SQL floor of the quote-approval reconciliation check: the lesson's query or its plain equivalent,
-- run with psql on the same data (bench/README.md).
select q.quote_id from cpq.quote q where q.status = 'PENDING_APPROVAL' and not exists (
  select 1 from cpq.approval_request ar where ar.quote_id = q.quote_id and ar.status in ('PENDING', 'ESCALATED'));
