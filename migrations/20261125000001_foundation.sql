-- Schemas, tenants, and the append-only guard every evidence table uses.
--
-- cpq        quotes, approvals (system of record)
-- oms        orders, fulfillment, projections (system of record + read model)
-- messaging  outbox / inbox (system of evidence for what was published and consumed)
-- ops        the console: incidents, repairs, reconciliation, audit (system of evidence)
-- platform   cross-cutting platform records: tenants, controls' consumers, seed and fault records

create schema if not exists cpq;
create schema if not exists oms;
create schema if not exists messaging;
create schema if not exists ops;
create schema if not exists platform;

-- Evidence is append-only in the database too, not only by convention: an UPDATE, DELETE or TRUNCATE on a
-- table carrying this trigger fails, whoever issues it.
create or replace function platform.refuse_evidence_change() returns trigger
language plpgsql as $$
begin
  raise exception 'evidence table %.% is append-only: % refused', tg_table_schema, tg_table_name, tg_op
    using errcode = 'P0001', hint = 'append a correcting record instead';
end;
$$;

-- attach_append_only('schema.table'): installs the guard for row changes and for TRUNCATE.
create or replace function platform.attach_append_only(target regclass) returns void
language plpgsql as $$
begin
  execute format('create trigger append_only_rows before update or delete on %s
                  for each row execute function platform.refuse_evidence_change()', target);
  execute format('create trigger append_only_truncate before truncate on %s
                  for each statement execute function platform.refuse_evidence_change()', target);
end;
$$;

create table platform.tenant (
  tenant_id   uuid primary key,
  slug        text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name        text not null,
  tier        text not null default 'STANDARD' check (tier in ('ENTERPRISE', 'STANDARD', 'TRIAL')),
  created_at  timestamptz not null default now()
);
