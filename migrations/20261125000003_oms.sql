-- OMS: orders and lines with optimistic locking, their transition history, fulfillment side-effect evidence,
-- and the Kafka-fed read model.

create table oms.sales_order (
  order_id           uuid primary key,
  tenant_id          uuid not null references platform.tenant(tenant_id),
  order_number       text not null,
  source_quote_id    uuid,
  customer_name      text not null,
  status             text not null,
  version            bigint not null default 1 check (version >= 1),
  currency           char(3) not null default 'EUR',
  total_minor        bigint not null default 0 check (total_minor >= 0),
  -- Acceptance evidence: the idempotency key of the acceptance request that captured this order.
  acceptance_key     text,
  -- PLATFORM: captured by the platform. LEGACY_IMPORT: loaded by a migration that predates
  -- uq_order_source_quote, so it is outside that index (the duplicate-order runbook finds such rows).
  origin             text not null default 'PLATFORM' check (origin in ('PLATFORM', 'LEGACY_IMPORT')),
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  check (status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED', 'FULFILLED', 'FAILED', 'CANCELLED')),
  unique (tenant_id, order_number)
);
-- The lesson's guard against duplicate orders (9.2), for every order the platform captures.
create unique index uq_order_source_quote on oms.sales_order (tenant_id, source_quote_id)
  where source_quote_id is not null and origin = 'PLATFORM';
-- Duplicate detection (9.2) and quote-to-order reconciliation (17.2) over every origin.
create index ix_sales_order_source_quote on oms.sales_order (tenant_id, source_quote_id) where source_quote_id is not null;
-- Stuck orders (8.2): non-terminal orders by last update.
create index ix_sales_order_active_updated on oms.sales_order (updated_at)
  where status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED');
create index ix_sales_order_tenant_status on oms.sales_order (tenant_id, status);

create table oms.sales_order_line (
  order_line_id   uuid primary key,
  order_id        uuid not null references oms.sales_order(order_id),
  tenant_id       uuid not null,
  line_no         integer not null check (line_no >= 1),
  product_sku     text not null,
  quantity        integer not null check (quantity > 0),
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  net_minor       bigint not null check (net_minor >= 0),
  status          text not null default 'PENDING',
  version         bigint not null default 1 check (version >= 1),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  check (status in ('PENDING', 'RESERVED', 'FULFILLMENT_REQUESTED', 'FULFILLED', 'FAILED', 'CANCELLED')),
  unique (order_id, line_no)
);

create table oms.order_transition (
  transition_id   uuid primary key,
  order_id        uuid not null references oms.sales_order(order_id),
  tenant_id       uuid not null,
  order_line_id   uuid,
  from_status     text,
  to_status       text not null,
  command         text not null,
  -- The aggregate version the change produced.
  order_version   bigint not null,
  actor           text not null,
  reason          text,
  correlation_id  uuid,
  repair_id       uuid,
  occurred_at     timestamptz not null default now()
);
create index ix_order_transition_order on oms.order_transition (order_id, occurred_at);
select platform.attach_append_only('oms.order_transition');

-- Evidence of external side effects: recorded with its idempotency key *before* the vendor is called,
-- so a retry can tell "sent" from "never sent".
create table oms.fulfillment_request (
  fulfillment_request_id  uuid primary key,
  tenant_id               uuid not null,
  order_id                uuid not null references oms.sales_order(order_id),
  order_line_id           uuid references oms.sales_order_line(order_line_id),
  idempotency_key         text not null unique,
  vendor                  text not null,
  status                  text not null,
  request_payload         jsonb not null,
  response_code           integer,
  response_body           text,
  attempts                integer not null default 0 check (attempts >= 0),
  created_at              timestamptz not null default now(),
  sent_at                 timestamptz,
  completed_at            timestamptz,
  updated_at              timestamptz not null default now(),
  check (status in ('RECORDED', 'SENT', 'ACKNOWLEDGED', 'COMPLETED', 'FAILED'))
);
create index ix_fulfillment_request_order on oms.fulfillment_request (order_id);

-- Read model fed from Kafka. aggregate_version only moves forward (the consumer checks it).
create table oms.order_projection (
  order_id           uuid primary key,
  tenant_id          uuid not null,
  order_number       text not null,
  status             text not null,
  aggregate_version  bigint not null,
  total_minor        bigint not null,
  currency           char(3) not null,
  last_event_id      uuid,
  source_updated_at  timestamptz not null,
  projected_at       timestamptz not null default now()
);
create index ix_order_projection_tenant on oms.order_projection (tenant_id, status);
