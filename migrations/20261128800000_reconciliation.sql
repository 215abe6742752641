-- Reconciliation (issue 10; lesson 6.3, 17; DESIGN 5): runs with progress and a heartbeat, incremental by
-- watermark; one open mismatch per check and entity across runs (first seen, last seen, times seen), its
-- lifecycle and its history per run; the admin's opt-in to automatic repair per check and tenant.

-- Runs: which check (reconciliation_type), how it was started, what it looked at (watermark, entity), how
-- far it is (progress, heartbeat), and what it changed.
alter table ops.reconciliation_run
  add column origin           text not null default 'CONSOLE'
    check (origin in ('SCHEDULE', 'CONSOLE', 'CLI', 'RECHECK')),
  -- Incremental runs look at what changed since the watermark (the window_end of the last clean run).
  add column incremental      boolean not null default false,
  -- A re-check of one entity (after a repair): only that entity was looked at.
  add column entity_id        uuid,
  add column worker           text,
  add column heartbeat_at     timestamptz,
  add column progress         text,
  add column opened_count     bigint not null default 0 check (opened_count >= 0),
  add column resolved_count   bigint not null default 0 check (resolved_count >= 0),
  add column auto_repairs     integer not null default 0 check (auto_repairs >= 0),
  add constraint reconciliation_run_settled check ((status = 'RUNNING') = (finished_at is null)),
  add constraint reconciliation_run_failed_says_why check (status <> 'FAILED' or error is not null);

-- The run list, newest first (key: started_at, run_id).
create index ix_reconciliation_run_list on ops.reconciliation_run (started_at desc, run_id desc);
-- The watermark: the last clean full-scope run of a check.
create index ix_reconciliation_run_watermark on ops.reconciliation_run (reconciliation_type, window_end desc)
  where status = 'COMPLETED' and entity_id is null;
-- Runs still working (the dead-run sweep, the metrics).
create index ix_reconciliation_run_running on ops.reconciliation_run (heartbeat_at) where status = 'RUNNING';

-- Mismatches: the check that found it, its life across runs, who owns it, how it ended.
alter table ops.reconciliation_mismatch
  add column check_name             text,
  add column first_seen_at          timestamptz,
  add column last_seen_at           timestamptz,
  add column times_seen             integer not null default 1 check (times_seen >= 1),
  add column last_run_id            uuid references ops.reconciliation_run(run_id),
  add column suggested_repair       text,
  add column acknowledged_by        text,
  add column acknowledged_at        timestamptz,
  add column false_positive_reason  text,
  add column incident_id            uuid references ops.operational_incident(incident_id),
  add column repair_id              uuid,
  add column resolved_at            timestamptz,
  add column resolved_by            text,
  add column resolved_run_id        uuid references ops.reconciliation_run(run_id),
  add column resolution             jsonb;
update ops.reconciliation_mismatch
   set check_name = mismatch_type, first_seen_at = created_at, last_seen_at = updated_at, last_run_id = run_id;
alter table ops.reconciliation_mismatch
  alter column check_name set not null,
  alter column first_seen_at set not null,
  alter column first_seen_at set default now(),
  alter column last_seen_at set not null,
  alter column last_seen_at set default now(),
  add constraint reconciliation_mismatch_fp_reason
    check (status <> 'FALSE_POSITIVE' or length(false_positive_reason) >= 10),
  add constraint reconciliation_mismatch_resolved
    check ((status in ('RESOLVED', 'FALSE_POSITIVE')) = (resolved_at is not null));

-- One open mismatch per check and entity: a later run updates it (last seen, times seen).
create unique index uq_mismatch_open_entity on ops.reconciliation_mismatch (check_name, entity_id)
  where status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING');
-- The mismatch list, newest first seen first (key: first_seen_at, mismatch_id), by status, check, tenant.
create index ix_mismatch_list on ops.reconciliation_mismatch (first_seen_at desc, mismatch_id desc);
create index ix_mismatch_status_list on ops.reconciliation_mismatch (status, first_seen_at desc, mismatch_id desc);
create index ix_mismatch_check_list on ops.reconciliation_mismatch (check_name, status, first_seen_at desc, mismatch_id desc);
create index ix_mismatch_tenant_list on ops.reconciliation_mismatch (tenant_id, first_seen_at desc, mismatch_id desc);
create index ix_mismatch_repair on ops.reconciliation_mismatch (repair_id) where repair_id is not null;

-- A mismatch's history, one line per run that saw (or resolved) it and per person's step: evidence.
create table ops.reconciliation_mismatch_event (
  event_id     uuid primary key,
  mismatch_id  uuid not null references ops.reconciliation_mismatch(mismatch_id),
  run_id       uuid references ops.reconciliation_run(run_id),
  event        text not null check (event in ('OPENED', 'SEEN', 'RESOLVED', 'ACKNOWLEDGED', 'FALSE_POSITIVE',
                                               'INCIDENT_LINKED', 'REPAIR_REQUESTED', 'RECHECKED')),
  status       text not null check (status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING', 'RESOLVED', 'FALSE_POSITIVE')),
  actor        text not null,
  detail       jsonb not null default '{}',
  occurred_at  timestamptz not null default now()
);
create index ix_mismatch_event_mismatch on ops.reconciliation_mismatch_event (mismatch_id, occurred_at);
select platform.attach_append_only('ops.reconciliation_mismatch_event');

-- Automatic repair: off unless an admin allowed it for a check and a tenant, with a cap per run.
create table ops.reconciliation_auto_repair (
  check_name    text not null,
  tenant_id     uuid not null references platform.tenant(tenant_id),
  enabled       boolean not null,
  max_per_run   integer not null check (max_per_run between 1 and 1000),
  reason        text not null check (length(reason) >= 10),
  changed_by    text not null,
  changed_at    timestamptz not null default now(),
  primary key (check_name, tenant_id)
);

-- What the checks read incrementally (since the watermark) and by entity.
create index ix_sales_order_updated on oms.sales_order (updated_at);
create index ix_quote_updated on cpq.quote (updated_at);
create index ix_order_line_updated on oms.sales_order_line (updated_at);
create index ix_order_transition_occurred on oms.order_transition (occurred_at);
create index ix_fulfillment_request_line on oms.fulfillment_request (order_line_id);

-- The loop (issue 10 item 4): the re-check of the mismatch a repair came from, written once after it ran.
alter table ops.repair_command_log add column mismatch_recheck jsonb;
