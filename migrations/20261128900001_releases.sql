-- Releases of the reference platform per tenant ring (lesson §16): which version serves a tenant, what
-- replaced what, and the defect a release carries (the bad-deployment drill deploys one to the drill
-- tenant). The newest row per tenant is in force; a tenant without a row runs the baseline. Rolling back
-- or forward is a new row: the history stays (append-only).
create table platform.release (
  release_id      uuid primary key,
  tenant_id       uuid not null references platform.tenant(tenant_id),
  version         text not null check (length(version) between 1 and 64),
  kind            text not null check (kind in ('DEPLOY', 'ROLLBACK', 'ROLL_FORWARD')),
  -- The orchestration step the release breaks (external-task topic), and how it fails.
  defect_topic    text,
  defect_message  text,
  replaces        text,
  reason          text not null check (length(reason) >= 10),
  deployed_by     text not null,
  incident_id     uuid,
  deployed_at     timestamptz not null default clock_timestamp()
);
create index ix_release_tenant on platform.release (tenant_id, deployed_at desc);
select platform.attach_append_only('platform.release');
