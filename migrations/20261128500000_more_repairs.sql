-- The rest of the repair catalogue (issue 9): the evidence three of its repairs leave behind, each
-- append-only. Manual approval evidence (lesson §10.4), duplicate order resolutions (§9.4) and outbox
-- quarantines (§23.4: a bad event is never deleted; it stays visible with why).

-- Approval given outside the platform: who, where, when, and where the record of it is. One per request.
create table cpq.manual_approval_evidence (
  evidence_id          uuid primary key,
  approval_request_id  uuid not null references cpq.approval_request(approval_request_id),
  tenant_id            uuid not null,
  quote_id             uuid not null references cpq.quote(quote_id),
  quote_version        integer not null check (quote_version >= 1),
  approved_by          text not null check (length(btrim(approved_by)) between 1 and 200),
  channel              text not null check (length(btrim(channel)) between 1 and 200),
  approved_at          timestamptz not null,
  evidence_ref         text not null check (length(btrim(evidence_ref)) between 1 and 500),
  -- Who recorded it (the console actor), why, and the repair that did.
  recorded_by          text not null,
  reason               text,
  repair_id            uuid,
  recorded_at          timestamptz not null default now(),
  check (approved_at <= recorded_at)
);
-- One manual approval per request; the re-check reads it by request.
create unique index uq_manual_approval_evidence_request on cpq.manual_approval_evidence (approval_request_id);
select platform.attach_append_only('cpq.manual_approval_evidence');

-- A duplicate order cancelled in favour of the canonical one, with the evidence the choice rests on.
create table oms.duplicate_order_resolution (
  resolution_id       uuid primary key,
  tenant_id           uuid not null,
  source_quote_id     uuid not null,
  duplicate_order_id  uuid not null references oms.sales_order(order_id),
  canonical_order_id  uuid not null references oms.sales_order(order_id),
  -- Why the canonical order is the canonical one (acceptance evidence, origin, commit order, effects).
  evidence            jsonb not null,
  reason              text not null,
  resolved_by         text not null,
  repair_id           uuid,
  resolved_at         timestamptz not null default now(),
  check (duplicate_order_id <> canonical_order_id)
);
-- A duplicate is resolved once.
create unique index uq_duplicate_order_resolution_duplicate on oms.duplicate_order_resolution (duplicate_order_id);
-- The resolutions of one quote's orders (the duplicate-order runbook, the re-check).
create index ix_duplicate_order_resolution_quote on oms.duplicate_order_resolution (tenant_id, source_quote_id);
select platform.attach_append_only('oms.duplicate_order_resolution');

-- Why an outbox event was quarantined: what it was when it was taken out of the relay's way.
create table messaging.outbox_quarantine (
  outbox_event_id    uuid primary key references messaging.outbox_event(outbox_event_id),
  tenant_id          uuid not null,
  aggregate_type     text not null,
  aggregate_id       uuid not null,
  aggregate_version  bigint not null,
  event_type         text not null,
  previous_status    text not null check (previous_status in ('PENDING', 'FAILED')),
  attempts           integer not null check (attempts >= 0),
  last_error         text,
  -- Why the payload cannot be read as its event type, when it cannot.
  unreadable_because text,
  reason             text not null check (length(btrim(reason)) >= 20),
  quarantined_by     text not null,
  repair_id          uuid,
  quarantined_at     timestamptz not null default now()
);
-- The quarantined events of an aggregate (outbox-stuck and kafka-consumer-lag runbooks).
create index ix_outbox_quarantine_aggregate on messaging.outbox_quarantine (aggregate_id, aggregate_version);
select platform.attach_append_only('messaging.outbox_quarantine');

-- A quarantined event is evidence: it only enters QUARANTINED with its reason recorded (never is written
-- QUARANTINED), never leaves it, and is never deleted.
create function messaging.guard_quarantined_event() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    if new.status = 'QUARANTINED' then
      raise exception 'outbox event % cannot be written QUARANTINED: it is quarantined with its reason', new.outbox_event_id
        using errcode = 'P0001';
    end if;
    return new;
  end if;
  if tg_op = 'DELETE' then
    if old.status = 'QUARANTINED' then
      raise exception 'outbox event % is quarantined: it is evidence and is never deleted', old.outbox_event_id
        using errcode = 'P0001';
    end if;
    return old;
  end if;
  if old.status = 'QUARANTINED' and new is distinct from old then
    raise exception 'outbox event % is quarantined: it stays as it was quarantined', old.outbox_event_id
      using errcode = 'P0001', hint = 'a correction is a new event (replay-projection), not an edit of this one';
  end if;
  if new.status = 'QUARANTINED' and old.status <> 'QUARANTINED'
     and not exists (select 1 from messaging.outbox_quarantine q where q.outbox_event_id = new.outbox_event_id) then
    raise exception 'outbox event % cannot be quarantined without its reason in messaging.outbox_quarantine', new.outbox_event_id
      using errcode = 'P0001';
  end if;
  return new;
end;
$$;
-- Only rows that are or become QUARANTINED fire it: the relay's own updates never pay for it.
create trigger guard_quarantined_event_insert before insert on messaging.outbox_event
  for each row when (new.status = 'QUARANTINED') execute function messaging.guard_quarantined_event();
create trigger guard_quarantined_event_update before update on messaging.outbox_event
  for each row when (old.status = 'QUARANTINED' or new.status = 'QUARANTINED')
  execute function messaging.guard_quarantined_event();
create trigger guard_quarantined_event_delete before delete on messaging.outbox_event
  for each row when (old.status = 'QUARANTINED') execute function messaging.guard_quarantined_event();
