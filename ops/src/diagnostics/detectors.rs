//! The runbooks' business detectors that no panel and no dashboard figure counts yet, per tenant, so
//! their alerts (runbooks/README.md) have a metric to fire on: accepted quotes of the last day without
//! exactly one order (`accepted_quote_without_order`), open approvals nobody is assigned to (`approval_unassigned`), and
//! reconciliation runs that failed (`reconciliation_run_failed`). Read in the sampler's round; exported
//! on `/metrics`.

use std::time::Duration;

use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgConnection;

/// How long an accepted quote may wait for its order, and an open approval for an assignee (README).
pub const GRACE: Duration = Duration::from_secs(5 * 60);
/// Accepted quotes are counted over this window (older than [`GRACE`], younger than this): the alert is
/// about the quote → order flow breaking now. Older ones are the quote ↔ order reconciliation check's
/// open mismatches (`opsdeck_reconciliation_mismatches_open`), and counting them here probed every
/// accepted quote ever on each sampler round (50 s at 1M orders).
pub const ACCEPTED_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Failed reconciliation runs are counted over this window.
pub const RUN_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// One tenant's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TenantDetectors {
    pub tenant_id: TenantId,
    pub slug: String,
    /// Quotes ACCEPTED for longer than [`GRACE`] (within [`ACCEPTED_WINDOW`]) with no order, or with more than one.
    pub accepted_quotes_without_one_order: i64,
    /// PENDING or ESCALATED approval requests without an assignee, older than [`GRACE`].
    pub approvals_unassigned: i64,
    /// Reconciliation runs of the tenant that ended FAILED within [`RUN_WINDOW`].
    pub reconciliation_runs_failed: i64,
}

/// Per tenant of `tenants` (all when `None`), every tenant listed (zeros included, so a series drops to 0
/// rather than vanishing).
pub async fn detect(db: &mut PgConnection, tenants: Option<&[TenantId]>) -> sqlx::Result<Vec<TenantDetectors>> {
    // Accepted quotes: one range scan of ix_quote_accepted over the window, each probed through
    // uq_order_source_quote, grouped by tenant. The rest a lateral probe per tenant: approvals through
    // ix_approval_request_open_due; runs by their time.
    sqlx::query_as(
        "with accepted as (
           select q.tenant_id, count(*) as n
           from cpq.quote q
           where q.status = 'ACCEPTED'
             and q.accepted_at >= now() - make_interval(secs => $4) and q.accepted_at < now() - make_interval(secs => $2)
             and (select count(*) from oms.sales_order o
                  where o.tenant_id = q.tenant_id and o.source_quote_id = q.quote_id) <> 1
           group by q.tenant_id
         )
         select t.tenant_id, t.slug,
                coalesce((select a.n from accepted a where a.tenant_id = t.tenant_id), 0) as accepted_quotes_without_one_order,
                (select count(*) from cpq.approval_request a
                 where a.tenant_id = t.tenant_id and a.status in ('PENDING', 'ESCALATED') and a.assignee is null
                   and a.created_at < now() - make_interval(secs => $2)
                ) as approvals_unassigned,
                (select count(*) from ops.reconciliation_run r
                 where r.tenant_id = t.tenant_id and r.status = 'FAILED'
                   and coalesce(r.finished_at, r.started_at) > now() - make_interval(secs => $3)
                ) as reconciliation_runs_failed
         from platform.tenant t
         where ($1::uuid[] is null or t.tenant_id = any($1))
         order by t.slug",
    )
    .bind(tenants.map(|t| t.iter().map(|t| t.as_uuid()).collect::<Vec<_>>()))
    .bind(GRACE.as_secs_f64())
    .bind(RUN_WINDOW.as_secs_f64())
    .bind(ACCEPTED_WINDOW.as_secs_f64())
    .fetch_all(db)
    .await
}
