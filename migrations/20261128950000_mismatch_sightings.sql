-- A mismatch's sightings without a write per run (issue 10): an open mismatch is, by construction, found
-- by every completed whole-scope run of its check over its tenant since it was last written — a run that
-- no longer finds it resolves it. So a whole run that finds a mismatch again *unchanged* writes nothing;
-- the runs since its last write are counted here, on read. A run writes a mismatch when it opens it, when
-- what it observes changed, when the run is incremental or a re-check, and at least once an hour (a
-- checkpoint, so that reading never counts more than an hour of runs).

-- Completed whole-scope runs of `check` over `tenant` that saw a mismatch since it was last written at
-- `last_seen` (and, once it closed at `closed_at`, before that; never the run that resolved it).
create function ops.mismatch_sightings(
  check_name text, tenant_id uuid, last_seen timestamptz, closed_at timestamptz, resolved_run uuid)
returns table (runs bigint, last_at timestamptz, last_run uuid)
-- A one-SELECT SQL table function: the planner inlines it into the query that calls it (no call per row).
language sql stable as $$
  select count(*), max(r.window_end), (array_agg(r.run_id order by r.window_end desc))[1]
  from ops.reconciliation_run r
  where r.reconciliation_type = check_name and r.status = 'COMPLETED' and r.entity_id is null
    and not r.incremental
    and (r.tenant_id is null or r.tenant_id = mismatch_sightings.tenant_id)
    and r.window_end > last_seen and (closed_at is null or r.window_end < closed_at)
    and r.run_id is distinct from resolved_run
$$;

-- Mismatches as people read them: last seen, times seen and last run include the runs that saw them
-- without writing. Written through the table; read through this view.
create view ops.reconciliation_mismatch_seen as
select m.mismatch_id, m.check_name, m.mismatch_type, m.tenant_id, m.entity_type, m.entity_id, m.expected_state,
       m.observed_state, m.likely_cause, m.suggested_action, m.suggested_repair, m.safety_level, m.auto_repair_allowed,
       m.status, m.first_seen_at,
       greatest(m.last_seen_at, s.last_at) as last_seen_at,
       (m.times_seen + s.runs)::integer as times_seen,
       m.run_id,
       coalesce(s.last_run, m.last_run_id) as last_run_id,
       -- The last run that wrote it (opened it, saw it changed, an incremental run, a re-check).
       m.last_run_id as last_written_run_id,
       m.acknowledged_by, m.acknowledged_at, m.false_positive_reason, m.incident_id, m.repair_id, m.resolved_at,
       m.resolved_by, m.resolved_run_id, m.resolution, m.created_at, m.updated_at
from ops.reconciliation_mismatch m
cross join lateral ops.mismatch_sightings(m.check_name, m.tenant_id, m.last_seen_at, m.resolved_at, m.resolved_run_id) s;
