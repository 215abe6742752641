-- Durable orchestration starts. The intent to orchestrate an order is written in the transaction that
-- captures it; the orchestration starter carries it out until the engine holds the order's process
-- instance (STARTED), or gives up after its attempt limit and leaves the order for a person (GAVE_UP,
-- with why), or finds nothing left to start (SKIPPED: the order was cancelled or failed meanwhile).
--
-- A claim is a lease: the starter sets claimed_by/claimed_at, counts the attempt and pushes
-- next_attempt_at to the end of the lease, so a claim whose starter died becomes due again by itself.

create table oms.orchestration_start (
  order_id             uuid primary key references oms.sales_order(order_id),
  tenant_id            uuid not null,
  status               text not null default 'PENDING',
  -- Attempts made so far; an attempt counts from the moment it is claimed.
  attempts             integer not null default 0 check (attempts >= 0),
  -- PENDING only: when the next attempt may be claimed (backoff, or the end of a live claim's lease).
  next_attempt_at      timestamptz,
  last_attempt_at      timestamptz,
  last_error           text,
  -- The starter instance holding a live (or dead, unexpired) claim.
  claimed_by           text,
  claimed_at           timestamptz,
  process_instance_id  text,
  settled_by           text,
  settled_at           timestamptz,
  -- GAVE_UP: why the starter gave up. SKIPPED: why there was nothing to start.
  reason               text,
  created_at           timestamptz not null default now(),
  check (status in ('PENDING', 'STARTED', 'GAVE_UP', 'SKIPPED')),
  check ((status = 'PENDING') = (next_attempt_at is not null)),
  check ((status = 'PENDING') = (settled_at is null and settled_by is null)),
  check ((status = 'STARTED') = (process_instance_id is not null)),
  check ((status in ('GAVE_UP', 'SKIPPED')) = (reason is not null)),
  check ((claimed_by is null) = (claimed_at is null)),
  check (claimed_by is null or status = 'PENDING')
);
-- The starter's claim, the engine-recovery release and the backlog gauges: pending starts by due time.
create index ix_orchestration_start_due on oms.orchestration_start (next_attempt_at) where status = 'PENDING';
-- Given-up starts (stuck-order detection, the given-up gauge).
create index ix_orchestration_start_gave_up on oms.orchestration_start (settled_at) where status = 'GAVE_UP';

-- A settled start is evidence: it never changes, and no start is ever deleted. Only a PENDING row moves
-- (claims, attempts, settling).
create function oms.refuse_settled_start_change() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and old.status = 'PENDING' then
    return new;
  end if;
  raise exception 'orchestration start of order % is %: settled starts are evidence and starts are never deleted (% refused)',
    old.order_id, old.status, tg_op
    using errcode = 'P0001',
          hint = 'a given-up start is resumed by the resume-orchestration repair, not by editing its record';
end;
$$;
create trigger settled_start_is_evidence before update or delete on oms.orchestration_start
  for each row execute function oms.refuse_settled_start_change();
create trigger append_only_truncate before truncate on oms.orchestration_start
  for each statement execute function platform.refuse_evidence_change();
