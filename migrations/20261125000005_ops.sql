-- The console's own records: incidents and their story, governed repairs, reconciliation, controls, drills,
-- and the hash-chained audit log.

create table ops.operational_incident (
  incident_id           uuid primary key,
  incident_number       bigint generated always as identity unique,
  severity              text not null,
  status                text not null,
  detected_at           timestamptz not null,
  detected_by           text not null,
  affected_tenant_id    uuid,
  affected_entity_type  text,
  affected_entity_id    uuid,
  summary               text not null check (length(summary) between 1 and 500),
  current_hypothesis    text,
  mitigation            text,
  -- Triage template (lesson 4.3).
  first_known_bad_at    timestamptz,
  last_known_good_at    timestamptz,
  business_capability   text,
  customer_symptom      text,
  technical_boundary    text,
  data_integrity_risk   text,
  side_effects_executed text,
  recovery_owner        text,
  communication_owner   text,
  triage_version        integer not null default 0,
  -- Impact dimensions (lesson 4.2).
  impact_revenue        text,
  impact_customer       text,
  impact_data_integrity text,
  impact_legal          text,
  impact_operational    text,
  blast_radius          text check (blast_radius in ('SINGLE_ORDER', 'SINGLE_TENANT', 'MULTI_TENANT', 'ALL_TENANTS', 'ALL_ORDERS')),
  recoverability        text check (recoverability in ('AUTOMATIC_RETRY', 'REPLAY', 'MANUAL_REPAIR', 'DATA_RESTORATION', 'COMPENSATION')),
  mitigated_at          timestamptz,
  resolved_at           timestamptz,
  closed_at             timestamptz,
  next_update_due_at    timestamptz,
  version               bigint not null default 1 check (version >= 1),
  created_by            text not null,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  check (severity in ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
  check (status in ('OPEN', 'MITIGATED', 'RESOLVED', 'CLOSED')),
  check (detected_by in ('ALERT', 'SYNTHETIC_JOURNEY', 'USER_REPORT', 'OPERATOR', 'RECONCILIATION', 'DRILL'))
);
-- The register's list: newest first, filtered by status/severity, paginated by key.
create index ix_incident_list on ops.operational_incident (detected_at desc, incident_id desc);
create index ix_incident_status_list on ops.operational_incident (status, severity, detected_at desc, incident_id desc);

create table ops.incident_tenant (
  incident_id  uuid not null references ops.operational_incident(incident_id),
  tenant_id    uuid not null references platform.tenant(tenant_id),
  added_at     timestamptz not null default now(),
  primary key (incident_id, tenant_id)
);
create index ix_incident_tenant_tenant on ops.incident_tenant (tenant_id, incident_id);

create table ops.incident_entity (
  incident_id  uuid not null references ops.operational_incident(incident_id),
  entity_type  text not null check (entity_type in ('QUOTE', 'ORDER', 'APPROVAL', 'OUTBOX_EVENT', 'PROCESS_INSTANCE')),
  entity_id    uuid not null,
  tenant_id    uuid not null,
  added_at     timestamptz not null default now(),
  primary key (incident_id, entity_type, entity_id)
);
create index ix_incident_entity_entity on ops.incident_entity (entity_id);

create table ops.incident_event (
  event_id     uuid primary key,
  incident_id  uuid not null references ops.operational_incident(incident_id),
  kind         text not null check (kind in ('SYSTEM', 'HUMAN')),
  event_type   text not null,
  actor        text not null,
  body         jsonb not null default '{}',
  occurred_at  timestamptz not null default now()
);
create index ix_incident_event_incident on ops.incident_event (incident_id, occurred_at);
select platform.attach_append_only('ops.incident_event');

create table ops.status_update (
  update_id          uuid primary key,
  incident_id        uuid not null references ops.operational_incident(incident_id),
  audience           text not null check (audience in ('INTERNAL', 'CUSTOMER')),
  update_status      text not null check (update_status in ('INVESTIGATING', 'MITIGATING', 'RECOVERING', 'RESOLVED')),
  severity           text not null check (severity in ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
  started_at         timestamptz,
  affected_capability text,
  affected_tenants   text,
  customer_impact    text,
  current_hypothesis text,
  mitigation_applied text,
  next_update_at     timestamptz,
  owner              text,
  body               text not null,
  posted_by          text not null,
  posted_at          timestamptz not null default now()
);
create index ix_status_update_incident on ops.status_update (incident_id, posted_at);
select platform.attach_append_only('ops.status_update');

create table ops.notification_delivery (
  delivery_id      uuid primary key,
  update_id        uuid not null references ops.status_update(update_id),
  webhook_name     text not null,
  status           text not null default 'PENDING' check (status in ('PENDING', 'DELIVERED', 'FAILED')),
  attempts         integer not null default 0,
  last_error       text,
  last_attempt_at  timestamptz,
  delivered_at     timestamptz,
  created_at       timestamptz not null default now(),
  unique (update_id, webhook_name)
);

create table ops.post_incident_review (
  review_id              uuid primary key,
  incident_id            uuid not null unique references ops.operational_incident(incident_id),
  status                 text not null default 'DRAFT' check (status in ('DRAFT', 'COMPLETE')),
  summary                text,
  business_impact        text,
  duration_text          text,
  timeline_text          text,
  technical_root_cause   text,
  process_root_cause     text,
  detection_gap          text,
  prevention_gap         text,
  what_worked            text,
  what_did_not_work      text,
  test_added             boolean not null default false,
  alert_added            boolean not null default false,
  runbook_updated        boolean not null default false,
  dashboard_updated      boolean not null default false,
  control_added          boolean not null default false,
  completed_at           timestamptz,
  version                bigint not null default 1,
  created_by             text not null,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now()
);

create table ops.action_item (
  action_item_id  uuid primary key,
  review_id       uuid not null references ops.post_incident_review(review_id),
  incident_id     uuid not null references ops.operational_incident(incident_id),
  action          text not null check (length(action) >= 10),
  owner           text,
  due_date        date,
  item_type       text not null check (item_type in ('TEST', 'ALERT', 'RUNBOOK', 'DASHBOARD', 'CONTROL', 'CODE_FIX', 'PROCESS')),
  category        text not null check (category in ('PREVENT', 'DETECT', 'RECOVER')),
  status          text not null default 'OPEN' check (status in ('OPEN', 'DONE')),
  completed_at    timestamptz,
  version         bigint not null default 1,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
-- Overdue action items view.
create index ix_action_item_open_due on ops.action_item (due_date) where status = 'OPEN';

-- Governed repairs (lesson 6.2, 8.6, 18). The row carries the lifecycle REQUESTED → APPROVED/REJECTED →
-- EXECUTED/FAILED; what was requested (before_state, proposed_change, reason, requester) can never change,
-- and no row is ever deleted (see trigger below).
create table ops.repair_command_log (
  repair_id              uuid primary key,
  incident_id            uuid not null references ops.operational_incident(incident_id),
  tenant_id              uuid not null,
  entity_type            text not null,
  entity_id              uuid not null,
  command_type           text not null,
  dry_run                boolean not null,
  risk                   text not null check (risk in ('LOW', 'HIGH')),
  idempotency_key        text not null unique,
  requested_by           text not null,
  approved_by            text,
  reason                 text not null check (length(reason) >= 20),
  entity_version         bigint,
  before_state           jsonb not null,
  proposed_change        jsonb not null,
  proposed_change_hash   text not null,
  after_state            jsonb,
  failure_reason         text,
  status                 text not null,
  executed_by            text,
  executed_at            timestamptz,
  reconciliation_run_id  uuid,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now(),
  check (status in ('REQUESTED', 'APPROVED', 'REJECTED', 'EXECUTED', 'FAILED'))
);
create index ix_repair_status on ops.repair_command_log (status, created_at);
create index ix_repair_entity on ops.repair_command_log (entity_id);
create index ix_repair_incident on ops.repair_command_log (incident_id);

create or replace function ops.guard_repair_log() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    raise exception 'repair_command_log is evidence: DELETE refused' using errcode = 'P0001';
  end if;
  if (new.repair_id, new.incident_id, new.tenant_id, new.entity_type, new.entity_id, new.command_type,
      new.dry_run, new.risk, new.idempotency_key, new.requested_by, new.reason, new.entity_version,
      new.before_state, new.proposed_change, new.proposed_change_hash, new.created_at)
     is distinct from
     (old.repair_id, old.incident_id, old.tenant_id, old.entity_type, old.entity_id, old.command_type,
      old.dry_run, old.risk, old.idempotency_key, old.requested_by, old.reason, old.entity_version,
      old.before_state, old.proposed_change, old.proposed_change_hash, old.created_at) then
    raise exception 'repair_command_log: what was requested cannot change' using errcode = 'P0001';
  end if;
  if not ((old.status = new.status)
       or (old.status = 'REQUESTED' and new.status in ('APPROVED', 'REJECTED', 'EXECUTED', 'FAILED'))
       or (old.status = 'APPROVED' and new.status in ('EXECUTED', 'FAILED'))) then
    raise exception 'repair_command_log: status % cannot become %', old.status, new.status using errcode = 'P0001';
  end if;
  if old.after_state is not null and new.after_state is distinct from old.after_state then
    raise exception 'repair_command_log: after_state is written once' using errcode = 'P0001';
  end if;
  return new;
end;
$$;
create trigger guard_repair_log before update or delete on ops.repair_command_log
  for each row execute function ops.guard_repair_log();
create trigger append_only_truncate before truncate on ops.repair_command_log
  for each statement execute function platform.refuse_evidence_change();

-- An approval is bound to the dry-run it saw: entity version + hash of the proposed change.
create table ops.repair_approval (
  approval_id           uuid primary key,
  repair_id             uuid not null references ops.repair_command_log(repair_id),
  approver              text not null,
  decision              text not null check (decision in ('APPROVED', 'REJECTED')),
  entity_version        bigint,
  proposed_change_hash  text not null,
  comment               text,
  decided_at            timestamptz not null default now()
);
create index ix_repair_approval_repair on ops.repair_approval (repair_id);
select platform.attach_append_only('ops.repair_approval');

create table ops.reconciliation_run (
  run_id               uuid primary key,
  reconciliation_type  text not null,
  tenant_id            uuid,
  window_start         timestamptz not null,
  window_end           timestamptz not null,
  started_at           timestamptz not null,
  finished_at          timestamptz,
  status               text not null,
  checked_count        bigint not null default 0,
  mismatch_count       bigint not null default 0,
  error                text,
  created_by           text not null,
  check (status in ('RUNNING', 'COMPLETED', 'FAILED')),
  check (window_start <= window_end)
);
create index ix_reconciliation_run_type on ops.reconciliation_run (reconciliation_type, started_at desc);

create table ops.reconciliation_mismatch (
  mismatch_id          uuid primary key,
  run_id               uuid not null references ops.reconciliation_run(run_id),
  tenant_id            uuid,
  entity_type          text not null,
  entity_id            uuid not null,
  mismatch_type        text not null,
  expected_state       jsonb not null,
  observed_state       jsonb not null,
  likely_cause         text,
  suggested_action     text,
  safety_level         text check (safety_level in ('SAFE', 'CAUTION', 'DANGEROUS')),
  auto_repair_allowed  boolean not null default false,
  status               text not null default 'OPEN',
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  check (status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING', 'RESOLVED', 'FALSE_POSITIVE'))
);
create index ix_mismatch_run on ops.reconciliation_mismatch (run_id);
create index ix_mismatch_open on ops.reconciliation_mismatch (mismatch_type, created_at) where status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING');
create index ix_mismatch_entity on ops.reconciliation_mismatch (entity_id);

-- Explicit, visible consumer pauses (lesson 11.4).
create table ops.consumer_pause (
  pause_id                   uuid primary key,
  consumer_group             text not null,
  topic                      text not null,
  partitions                 integer[],
  reason                     text not null,
  owner                      text not null,
  expected_resume_condition  text not null,
  customer_impact            text not null,
  incident_id                uuid references ops.operational_incident(incident_id),
  started_at                 timestamptz not null default now(),
  resumed_at                 timestamptz,
  resumed_by                 text
);
create unique index uq_consumer_pause_active on ops.consumer_pause (consumer_group, topic) where resumed_at is null;

-- Mitigation switches the platform honours; every change is appended to platform_control_change.
create table ops.platform_control (
  control_key   text primary key,
  control_type  text not null check (control_type in ('DISABLE_QUOTE_ACCEPTANCE', 'PAUSE_RELAY', 'PAUSE_CONSUMER', 'PAUSE_ORCHESTRATION_STARTS')),
  tenant_id     uuid,
  target        text,
  enabled       boolean not null,
  reason        text not null,
  changed_by    text not null,
  changed_at    timestamptz not null default now(),
  version       bigint not null default 1
);

create table ops.platform_control_change (
  change_id     uuid primary key,
  control_key   text not null references ops.platform_control(control_key),
  enabled       boolean not null,
  reason        text not null,
  changed_by    text not null,
  incident_id   uuid,
  changed_at    timestamptz not null default now()
);
select platform.attach_append_only('ops.platform_control_change');

create table ops.drill_run (
  drill_id       uuid primary key,
  drill_type     text not null,
  status         text not null check (status in ('RUNNING', 'BROKEN', 'RECOVERED', 'FAILED', 'ABORTED')),
  tenant_id      uuid,
  entity_type    text,
  entity_id      uuid,
  incident_id    uuid references ops.operational_incident(incident_id),
  started_by     text not null,
  started_at     timestamptz not null default now(),
  finished_at    timestamptz,
  evaluation     jsonb not null default '{}'
);

-- Who did what, allowed or refused. Hash-chained: each row's hash covers its content and the previous
-- row's hash, computed in the database so no writer can skip it.
create table ops.audit_log (
  audit_id       bigint generated always as identity primary key,
  occurred_at    timestamptz not null default now(),
  actor_subject  text not null,
  actor_name     text not null,
  actor_kind     text not null check (actor_kind in ('USER', 'SERVICE', 'SYSTEM')),
  action         text not null,
  outcome        text not null check (outcome in ('ALLOWED', 'REFUSED', 'SUCCEEDED', 'FAILED')),
  tenant_id      uuid,
  entity_type    text,
  entity_id      uuid,
  reason         text,
  detail         jsonb not null default '{}',
  prev_hash      text,
  hash           text not null
);
create index ix_audit_entity on ops.audit_log (entity_id, occurred_at);
create index ix_audit_actor on ops.audit_log (actor_subject, occurred_at);

create or replace function ops.chain_audit() returns trigger
language plpgsql as $$
declare
  previous text;
begin
  -- One writer at a time extends the chain.
  perform pg_advisory_xact_lock(hashtext('ops.audit_log.chain'));
  select hash into previous from ops.audit_log order by audit_id desc limit 1;
  new.prev_hash := previous;
  new.hash := encode(sha256(convert_to(concat_ws('|',
      coalesce(previous, ''),
      -- UTC, fixed format: the hash must not depend on the session's TimeZone.
      to_char(new.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), new.actor_subject, new.actor_name, new.actor_kind,
      new.action, new.outcome, coalesce(new.tenant_id::text, ''), coalesce(new.entity_type, ''),
      coalesce(new.entity_id::text, ''), coalesce(new.reason, ''), new.detail::text), 'UTF8')), 'hex');
  return new;
end;
$$;
create trigger chain_audit before insert on ops.audit_log for each row execute function ops.chain_audit();
select platform.attach_append_only('ops.audit_log');
