-- Incident management at scale (issue 5): the register's list stays fast at 100k+ incidents, whatever
-- the filter, and webhook deliveries retry with a backoff.

-- The list filtered by tenant (or seen by a tenant-scoped person) walks one tenant's incidents newest
-- first and stops after a page. That needs the incident's detected_at beside the tenant in one index,
-- so incident_tenant carries a copy of it, kept equal by the triggers below (a triage save may correct
-- detected_at).
alter table ops.incident_tenant add column detected_at timestamptz;
update ops.incident_tenant it set detected_at = i.detected_at
  from ops.operational_incident i where i.incident_id = it.incident_id;
alter table ops.incident_tenant alter column detected_at set not null;

create or replace function ops.incident_tenant_detected_at() returns trigger
language plpgsql as $$
begin
  select detected_at into new.detected_at from ops.operational_incident where incident_id = new.incident_id;
  return new;
end;
$$;
create trigger incident_tenant_detected_at before insert or update on ops.incident_tenant
  for each row execute function ops.incident_tenant_detected_at();

create or replace function ops.incident_detected_at_moved() returns trigger
language plpgsql as $$
begin
  update ops.incident_tenant set detected_at = new.detected_at where incident_id = new.incident_id;
  return new;
end;
$$;
create trigger incident_detected_at_moved after update of detected_at on ops.operational_incident
  for each row when (old.detected_at is distinct from new.detected_at)
  execute function ops.incident_detected_at_moved();

-- list by tenant (and for tenant-scoped actors): one ordered range per tenant.
create index ix_incident_tenant_list on ops.incident_tenant (tenant_id, detected_at desc, incident_id desc);
-- list filtered by status alone, or severity alone (ix_incident_status_list serves both together).
create index ix_incident_status_detected on ops.operational_incident (status, detected_at desc, incident_id desc);
create index ix_incident_severity_detected on ops.operational_incident (severity, detected_at desc, incident_id desc);

-- Deliveries wait out a backoff after a failed attempt; the worker takes the due ones.
alter table ops.notification_delivery add column next_attempt_at timestamptz not null default now();
create index ix_notification_delivery_due on ops.notification_delivery (next_attempt_at) where status = 'PENDING';

-- An incident's action items (detail page, close check).
create index ix_action_item_incident on ops.action_item (incident_id, created_at);
