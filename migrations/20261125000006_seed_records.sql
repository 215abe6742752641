-- What the seed generator and fault injection put in on purpose, so detection can be checked exactly.

create table platform.seed_run (
  seed_run_id  uuid primary key,
  params       jsonb not null,
  counts       jsonb not null default '{}',
  started_at   timestamptz not null default now(),
  finished_at  timestamptz
);

create table platform.seed_anomaly (
  seed_run_id   uuid not null references platform.seed_run(seed_run_id),
  anomaly_type  text not null check (anomaly_type in (
    'STUCK_ORDER', 'ACCEPTED_QUOTE_WITHOUT_ORDER', 'DUPLICATE_ORDER', 'STALE_PROJECTION',
    'OVERDUE_APPROVAL', 'STALE_OUTBOX_CLAIM', 'PRICE_SNAPSHOT_MISMATCH')),
  tenant_id     uuid not null,
  entity_type   text not null,
  entity_id     uuid not null,
  detail        jsonb not null default '{}',
  primary key (seed_run_id, anomaly_type, entity_id)
);
create index ix_seed_anomaly_type on platform.seed_anomaly (anomaly_type);
select platform.attach_append_only('platform.seed_anomaly');

create table platform.fault_injection (
  fault_id     uuid primary key,
  fault_type   text not null,
  tenant_id    uuid,
  entity_type  text,
  entity_id    uuid,
  detail       jsonb not null default '{}',
  injected_by  text not null,
  started_at   timestamptz not null default now(),
  ended_at     timestamptz
);
