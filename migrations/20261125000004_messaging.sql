-- Transactional outbox (written in the same transaction as the business change) and consumer inbox.

create table messaging.outbox_event (
  outbox_event_id    uuid primary key,
  tenant_id          uuid not null,
  aggregate_type     text not null,
  aggregate_id       uuid not null,
  aggregate_version  bigint not null,
  event_type         text not null,
  payload            jsonb not null,
  headers            jsonb not null default '{}',
  status             text not null default 'PENDING',
  attempts           integer not null default 0 check (attempts >= 0),
  last_error         text,
  next_attempt_at    timestamptz,
  claimed_by         text,
  claimed_at         timestamptz,
  created_at         timestamptz not null default now(),
  published_at       timestamptz,
  kafka_topic        text,
  kafka_partition    integer,
  kafka_offset       bigint,
  check (status in ('PENDING', 'PROCESSING', 'PUBLISHED', 'FAILED', 'QUARANTINED')),
  check ((status = 'PROCESSING') = (claimed_by is not null and claimed_at is not null)),
  check ((status = 'PUBLISHED') = (published_at is not null))
);
-- Pending outbox (lesson 12.1) and the relay's claim query: unpublished events by age.
create index ix_outbox_pending on messaging.outbox_event (created_at) where status in ('PENDING', 'FAILED');
create index ix_outbox_pending_type on messaging.outbox_event (aggregate_type, event_type, created_at)
  where published_at is null and status in ('PENDING', 'FAILED');
-- Stale claims (lesson 12.3).
create index ix_outbox_processing_claimed on messaging.outbox_event (claimed_at) where status = 'PROCESSING';
create index ix_outbox_aggregate on messaging.outbox_event (aggregate_id, aggregate_version);

create table messaging.inbox_message (
  consumer_group  text not null,
  message_id      uuid not null,
  topic           text not null,
  kafka_partition integer not null,
  kafka_offset    bigint not null,
  received_at     timestamptz not null default now(),
  primary key (consumer_group, message_id)
);
select platform.attach_append_only('messaging.inbox_message');

-- Heartbeats of long-running workers (relay, consumers, engine worker), so a claim's owner can be told
-- alive or dead.
create table platform.worker_heartbeat (
  instance_id   text primary key,
  worker_kind   text not null,
  started_at    timestamptz not null default now(),
  last_beat_at  timestamptz not null default now(),
  detail        jsonb not null default '{}'
);
