-- Governed repairs (issue 9; lesson §6.2, §8.6, §18): the two-person rule and the approval's binding to
-- the dry-run it saw, enforced by the database as well as by the code; re-checks; stricter per-tenant
-- policies.

-- Who asked, as the identity provider names them (the display name is requested_by): the two-person
-- rule compares subjects, never names.
alter table ops.repair_command_log add column requested_by_subject text;
update ops.repair_command_log set requested_by_subject = requested_by where requested_by_subject is null;
alter table ops.repair_command_log alter column requested_by_subject set not null;
-- What the dry-run checked, for the page and the approver (pass / warn / fail with why).
alter table ops.repair_command_log add column safety_checks jsonb not null default '[]';
-- Why the risk is what it is (the type's base risk, raised by side effects, a tenant's stricter policy).
alter table ops.repair_command_log add column risk_reasons jsonb not null default '[]';
-- After execution: did the invariants the repair was meant to restore hold? (written once, see below)
alter table ops.repair_command_log add column recheck jsonb;
alter table ops.repair_command_log add column rechecked_at timestamptz;
-- The incident timeline and the reconciliation mismatch a repair came from, when it came from one.
alter table ops.repair_command_log add column mismatch_id uuid;
-- A repair's story in order: queue of requests waiting for approval, history per entity and per incident.
create index ix_repair_waiting on ops.repair_command_log (created_at) where status = 'REQUESTED' and risk = 'HIGH';
create index ix_repair_entity_created on ops.repair_command_log (entity_id, created_at desc);
create index ix_repair_incident_created on ops.repair_command_log (incident_id, created_at desc);

alter table ops.repair_approval add column approver_subject text;
update ops.repair_approval set approver_subject = approver where approver_subject is null;
alter table ops.repair_approval alter column approver_subject set not null;
-- An approval stands until then (configurable; the code sets it from the decision time).
alter table ops.repair_approval add column expires_at timestamptz;

-- Nobody approves their own request, whatever roles they hold; an approval is of the dry-run stored.
create or replace function ops.check_repair_approval() returns trigger
language plpgsql as $$
declare
  repair ops.repair_command_log%rowtype;
begin
  select * into repair from ops.repair_command_log where repair_id = new.repair_id;
  if new.approver_subject = repair.requested_by_subject then
    raise exception 'repair %: nobody approves their own request', new.repair_id using errcode = 'P0001';
  end if;
  if new.proposed_change_hash is distinct from repair.proposed_change_hash
     or new.entity_version is distinct from repair.entity_version then
    raise exception 'repair %: an approval is bound to the dry-run that was stored', new.repair_id using errcode = 'P0001';
  end if;
  return new;
end;
$$;
create trigger check_repair_approval before insert on ops.repair_approval
  for each row execute function ops.check_repair_approval();

-- A HIGH-risk repair executes only with a standing approval by someone else, of this very dry-run.
create or replace function ops.check_repair_execution() returns trigger
language plpgsql as $$
begin
  if new.status = 'EXECUTED' and old.status <> 'EXECUTED' and new.risk = 'HIGH' and not exists (
       select 1 from ops.repair_approval a
       where a.repair_id = new.repair_id and a.decision = 'APPROVED'
         and a.approver_subject <> new.requested_by_subject
         and a.proposed_change_hash = new.proposed_change_hash
         and a.entity_version is not distinct from new.entity_version
         and (a.expires_at is null or a.expires_at > now())) then
    raise exception 'repair %: a HIGH-risk repair executes only after approval by another person', new.repair_id
      using errcode = 'P0001';
  end if;
  if (new.requested_by_subject, new.safety_checks, new.risk_reasons, new.mismatch_id)
     is distinct from (old.requested_by_subject, old.safety_checks, old.risk_reasons, old.mismatch_id) then
    raise exception 'repair_command_log: what was requested cannot change' using errcode = 'P0001';
  end if;
  if old.recheck is not null and new.recheck is distinct from old.recheck then
    raise exception 'repair %: its re-check is written once', new.repair_id using errcode = 'P0001';
  end if;
  return new;
end;
$$;
create trigger check_repair_execution before update on ops.repair_command_log
  for each row execute function ops.check_repair_execution();

-- Admins make a repair type stricter for a tenant (never laxer than the type's own risk); every change is
-- kept (the newest row per tenant and type is in force).
create table ops.repair_policy (
  policy_id     uuid primary key,
  tenant_id     uuid not null references platform.tenant(tenant_id),
  repair_type   text not null,
  min_risk      text not null check (min_risk in ('LOW', 'HIGH')),
  reason        text not null check (length(reason) >= 10),
  changed_by    text not null,
  changed_at    timestamptz not null default now()
);
create index ix_repair_policy_current on ops.repair_policy (tenant_id, repair_type, changed_at desc);
select platform.attach_append_only('ops.repair_policy');
