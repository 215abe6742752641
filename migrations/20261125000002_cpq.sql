-- CPQ: quotes with price snapshots, their transition history, approval policies and requests.
-- Money is held in minor units (bigint) with an ISO currency: exact and cheap to sum.

create table cpq.quote (
  quote_id         uuid primary key,
  tenant_id        uuid not null references platform.tenant(tenant_id),
  quote_number     text not null,
  customer_name    text not null,
  status           text not null,
  -- current_version: the quote's commercial revision; an approval is bound to it.
  current_version  integer not null default 1 check (current_version >= 1),
  -- version: optimistic lock, bumped by every change of the row.
  version          bigint not null default 1 check (version >= 1),
  currency         char(3) not null default 'EUR',
  total_minor      bigint not null default 0 check (total_minor >= 0),
  discount_pct     numeric(5,2) not null default 0 check (discount_pct between 0 and 100),
  valid_until      timestamptz,
  accepted_at      timestamptz,
  acceptance_ref   text,
  created_by       text not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  check (status in ('DRAFT', 'PRICED', 'PENDING_APPROVAL', 'APPROVED', 'REJECTED', 'ACCEPTED', 'EXPIRED', 'CANCELLED')),
  check ((status = 'ACCEPTED') = (accepted_at is not null)),
  unique (tenant_id, quote_number)
);
-- Quote-to-order reconciliation (lesson 17.2): accepted quotes by acceptance time.
create index ix_quote_accepted on cpq.quote (accepted_at) where status = 'ACCEPTED';
-- Stuck-approval diagnosis (lesson 10.2) starts from quotes pending approval.
create index ix_quote_pending_approval on cpq.quote (tenant_id, updated_at) where status = 'PENDING_APPROVAL';
create index ix_quote_tenant_status on cpq.quote (tenant_id, status);

create table cpq.quote_line (
  quote_line_id     uuid primary key,
  quote_id          uuid not null references cpq.quote(quote_id),
  tenant_id         uuid not null,
  line_no           integer not null check (line_no >= 1),
  product_sku       text not null,
  description       text not null,
  quantity          integer not null check (quantity > 0),
  unit_list_minor   bigint not null check (unit_list_minor >= 0),
  discount_pct      numeric(5,2) not null default 0 check (discount_pct between 0 and 100),
  -- The priced snapshot: what the customer was quoted for this line, frozen at pricing time.
  net_minor         bigint not null check (net_minor >= 0),
  price_snapshot    jsonb not null,
  priced_at         timestamptz not null default now(),
  unique (quote_id, line_no)
);

create table cpq.quote_transition (
  transition_id    uuid primary key,
  quote_id         uuid not null references cpq.quote(quote_id),
  tenant_id        uuid not null,
  from_status      text,
  to_status        text not null,
  command          text not null,
  quote_version    integer not null,
  row_version      bigint not null,
  actor            text not null,
  reason           text,
  correlation_id   uuid,
  occurred_at      timestamptz not null default now()
);
create index ix_quote_transition_quote on cpq.quote_transition (quote_id, occurred_at);
select platform.attach_append_only('cpq.quote_transition');

-- Versioned: a policy version is never edited, a new version is added; requests name the version they used.
create table cpq.approval_policy (
  policy_id         uuid not null,
  policy_version    integer not null check (policy_version >= 1),
  tenant_id         uuid not null references platform.tenant(tenant_id),
  name              text not null,
  -- A quote needs approval when its discount or its total passes these thresholds.
  max_discount_pct  numeric(5,2) not null check (max_discount_pct between 0 and 100),
  max_total_minor   bigint not null check (max_total_minor >= 0),
  approver_group    text not null,
  sla_minutes       integer not null check (sla_minutes > 0),
  status            text not null default 'ACTIVE' check (status in ('ACTIVE', 'DISABLED')),
  created_by        text not null,
  created_at        timestamptz not null default now(),
  primary key (policy_id, policy_version)
);
create index ix_approval_policy_tenant on cpq.approval_policy (tenant_id, status);

create table cpq.approval_request (
  approval_request_id  uuid primary key,
  tenant_id            uuid not null,
  quote_id             uuid not null references cpq.quote(quote_id),
  quote_version        integer not null,
  policy_id            uuid not null,
  policy_version       integer not null,
  assignee             text,
  status               text not null,
  escalation_level     integer not null default 0 check (escalation_level >= 0),
  due_at               timestamptz not null,
  decided_at           timestamptz,
  decided_by           text,
  decision_note        text,
  version              bigint not null default 1 check (version >= 1),
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  check (status in ('PENDING', 'ESCALATED', 'APPROVED', 'REJECTED', 'CANCELLED')),
  check ((status in ('APPROVED', 'REJECTED')) = (decided_at is not null)),
  foreign key (policy_id, policy_version) references cpq.approval_policy(policy_id, policy_version)
);
-- Overdue approvals (lesson 10.2): open requests by due time.
create index ix_approval_request_open_due on cpq.approval_request (due_at) where status in ('PENDING', 'ESCALATED');
create index ix_approval_request_quote on cpq.approval_request (quote_id);
-- At most one open approval per quote.
create unique index uq_approval_request_open on cpq.approval_request (quote_id) where status in ('PENDING', 'ESCALATED');

create table cpq.approval_transition (
  transition_id        uuid primary key,
  approval_request_id  uuid not null references cpq.approval_request(approval_request_id),
  tenant_id            uuid not null,
  from_status          text,
  to_status            text not null,
  command              text not null,
  row_version          bigint not null,
  actor                text not null,
  reason               text,
  detail               jsonb not null default '{}',
  occurred_at          timestamptz not null default now()
);
create index ix_approval_transition_request on cpq.approval_transition (approval_request_id, occurred_at);
select platform.attach_append_only('cpq.approval_transition');
