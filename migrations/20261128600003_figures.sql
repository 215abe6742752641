-- Dashboard figures (issue 11; lesson §19): every figure a dashboard shows, sampled by the console at a
-- fixed interval so charts have history that survives restarts and reads the same on every replica.
-- A sample is a measurement, not evidence: the sampler deletes samples older than the retention.
create table ops.figure_sample (
  figure      text not null check (figure ~ '^[a-z][a-z0-9_]*$'),
  -- The tenant the value is about; null: the whole platform (the total of a per-tenant figure, or a
  -- figure that names no tenant).
  tenant_id   uuid,
  -- A breakdown other than the tenant (an incident severity); '' when there is none.
  facet       text not null default '',
  value       double precision not null,
  sampled_at  timestamptz not null
);
-- A chart: one figure, one tenant (or all), over time.
create index ix_figure_sample_series on ops.figure_sample (figure, tenant_id, facet, sampled_at desc);
-- Pruning by age and the latest round.
create index ix_figure_sample_sampled_at on ops.figure_sample (sampled_at);

-- Per-minute rates count transitions of the last minutes: BRIN indexes fit these append-only, time-ordered
-- tables at a fraction of a b-tree's size.
create index brin_quote_transition_occurred on cpq.quote_transition using brin (occurred_at);
create index brin_order_transition_occurred on oms.order_transition using brin (occurred_at);
