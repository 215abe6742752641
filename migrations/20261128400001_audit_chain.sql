-- The audit log's hash chain, made verifiable end to end (issue 9).
--
-- Each row's hash covers its content and the hash of the row before it in the chain. The chain's order is
-- the order in which rows took the chain lock, which is not audit_id's order: audit_id is drawn before the
-- trigger runs, so a transaction that drew a lower id can take the lock later. chain_seq records the
-- chain's order (drawn under the lock), and one function computes a row's hash for the trigger and the
-- verifier alike.

create sequence ops.audit_chain_seq;

alter table ops.audit_log add column chain_seq bigint;
alter table ops.audit_log disable trigger append_only_rows;
update ops.audit_log set chain_seq = nextval('ops.audit_chain_seq') where chain_seq is null
  and audit_id in (select audit_id from ops.audit_log order by audit_id);
alter table ops.audit_log enable trigger append_only_rows;
alter table ops.audit_log alter column chain_seq set not null;
create unique index uq_audit_chain_seq on ops.audit_log (chain_seq);

-- The hash of one row given the previous row's hash: UTC time in a fixed format (the hash must not depend
-- on the session's TimeZone), every column that says what happened.
create or replace function ops.audit_hash(previous text, entry ops.audit_log) returns text
language sql immutable as $$
  select encode(sha256(convert_to(concat_ws('|',
      coalesce(previous, ''),
      to_char(entry.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), entry.actor_subject, entry.actor_name,
      entry.actor_kind, entry.action, entry.outcome, coalesce(entry.tenant_id::text, ''), coalesce(entry.entity_type, ''),
      coalesce(entry.entity_id::text, ''), coalesce(entry.reason, ''), entry.detail::text), 'UTF8')), 'hex')
$$;

create or replace function ops.chain_audit() returns trigger
language plpgsql as $$
declare
  previous text;
begin
  -- One writer at a time extends the chain, in chain_seq order.
  perform pg_advisory_xact_lock(hashtext('ops.audit_log.chain'));
  select hash into previous from ops.audit_log order by chain_seq desc limit 1;
  new.chain_seq := nextval('ops.audit_chain_seq');
  new.prev_hash := previous;
  new.hash := ops.audit_hash(previous, new);
  return new;
end;
$$;
