-- Engine calls a repair still owes after its commit (lesson §23: external calls after the commit).
-- A repair that must tell the process engine something records the call here, in the transaction of its
-- change; the console carries it out after the commit and records each attempt. A step without a
-- successful attempt is pending and is tried again (with backoff) until it succeeds. Both tables are
-- evidence: append-only.
create table ops.repair_follow_up (
  repair_id    uuid not null references ops.repair_command_log(repair_id),
  seq          integer not null check (seq >= 0),
  tenant_id    uuid not null,
  step         jsonb not null,
  description  text not null,
  created_at   timestamptz not null default now(),
  primary key (repair_id, seq)
);
select platform.attach_append_only('ops.repair_follow_up');

create table ops.repair_follow_up_attempt (
  attempt_id    uuid primary key,
  repair_id     uuid not null,
  seq           integer not null,
  attempted_at  timestamptz not null default now(),
  ok            boolean not null,
  outcome       jsonb,
  error         text,
  attempted_by  text not null,
  foreign key (repair_id, seq) references ops.repair_follow_up(repair_id, seq)
);
select platform.attach_append_only('ops.repair_follow_up_attempt');
create index ix_follow_up_attempt on ops.repair_follow_up_attempt (repair_id, seq, attempted_at);
-- One successful attempt per step: a step carried out twice at once records one success.
create unique index ux_follow_up_done on ops.repair_follow_up_attempt (repair_id, seq) where ok;
