-- Checklists as forms (lesson §11.5 replay, §16.2 rollback safety, §24 production readiness): each
-- submission kept whole — every answer, the verdict, who and when — on the incident it serves, or
-- platform-wide (incident_id null) for readiness. Evidence: append-only.
create table ops.checklist_record (
  record_id    uuid primary key,
  incident_id  uuid references ops.operational_incident(incident_id),
  checklist    text not null check (checklist in ('rollback-safety', 'replay', 'production-readiness')),
  answers      jsonb not null,
  note         text,
  verdict      text not null,
  answered_by  text not null,
  answered_at  timestamptz not null default now(),
  check (incident_id is not null or checklist = 'production-readiness')
);
create index ix_checklist_record_latest on ops.checklist_record (incident_id, checklist, answered_at desc);
select platform.attach_append_only('ops.checklist_record');
