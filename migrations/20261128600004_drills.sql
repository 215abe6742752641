-- Failure drills (issue 12; lesson §22): what a drill broke (its fault) and how it ended. The §22.2
-- evaluation is kept in `evaluation` (evidence the console found, the operator's answers, the score).
alter table ops.drill_run
  add column fault_id     uuid references platform.fault_injection(fault_id),
  add column summary      text,
  add column finished_by  text,
  add column score        int check (score between 0 and 7);
create index ix_drill_run_started on ops.drill_run (started_at desc);
-- At most one drill of a kind at a time: two would break each other's evidence.
create unique index ux_drill_run_active on ops.drill_run (drill_type) where status in ('RUNNING', 'BROKEN');
