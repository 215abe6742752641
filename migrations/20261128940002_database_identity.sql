-- Which database this is, for a system several databases share: one process engine serving several
-- opsdeck databases (environments, tenants' cells, each test's own database). Every order-orchestration
-- instance carries it as the process variable `opsdeckDb`, and a database's engine worker fetches only
-- the tasks that carry its own (platform::orchestration::ownership).
--
-- Made once, here, and never changed: a database restored as a copy (a staging clone of production)
-- shares its original's id until the copy is given a new one — do that before pointing the copy's
-- workers at the original's engine.
create table platform.database_identity (
  database_id  uuid primary key default gen_random_uuid(),
  -- At most one row.
  singleton    boolean not null default true unique check (singleton),
  created_at   timestamptz not null default now()
);
insert into platform.database_identity default values;
