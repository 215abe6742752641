-- Each version of a platform aggregate (quote, approval, order) is announced once. Consumers order and
-- deduplicate by (aggregate_id, aggregate_version); a second event at the same version would be either
-- dropped as a duplicate or applied over the first, depending on which arrives first. The command that
-- writes the event fails as a whole (its transaction aborts), so no change lands without its one event.
--
-- Outside the index, by design: OrderStateReplayed re-announces the order's current version (lesson
-- §11.5, §23.5: a superseding event, applied only where a consumer is behind), and the console's
-- incident notifications (aggregate 'incident') do not move the incident's version.
--
-- It also serves the version lookups ix_outbox_aggregate serves for these rows.
create unique index ux_outbox_aggregate_version on messaging.outbox_event (aggregate_id, aggregate_version)
  where aggregate_type in ('quote', 'approval', 'order') and event_type <> 'OrderStateReplayed';
