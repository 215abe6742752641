//! The incident register's list: filtered by status, severity, tenant and age, newest first, paginated
//! by key — the cursor is the last row's `(detected_at, incident_id)` — so page 2,000 costs what page 1
//! costs, and rows inserted meanwhile neither repeat nor vanish across pages.
//!
//! Tenant scope: an incident is listed when any of its tenants is in the actor's scope, or to actors
//! scoped to every tenant. An incident with no tenant (platform-wide) is visible to All-scope actors
//! only. A visible incident is shown whole (its other tenants too): tenant scope decides which incidents
//! a person sees, and each linked order or quote is scoped again on its own page.
//!
//! Two query shapes, chosen here rather than left to the planner's guess:
//! * no tenant set (an All-scope actor, no tenant filter): one ordered scan of `operational_incident`
//!   over `ix_incident_list`, or `ix_incident_status_detected` / `ix_incident_severity_detected` /
//!   `ix_incident_status_list` when status or severity is filtered;
//! * a tenant set (the tenant filter, or a scoped actor's tenants): for each tenant, an ordered scan of
//!   `ix_incident_tenant_list (tenant_id, detected_at desc, incident_id desc)` that stops after one
//!   page, then the union's first page. `incident_tenant.detected_at` mirrors the incident's (kept by
//!   trigger, migration 20261125000007) so the per-tenant scan needs no join to be ordered.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use platform::ids::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use super::affected::TenantRef;
use super::model::{stored, DetectedBy, IncidentStatus, Severity};
use crate::command::{read, Action, Envelope};
use crate::error::Result;
use crate::form::parse as form;
use crate::form::FieldErrors;
use crate::identity::{Actor, TenantScope};
use crate::ids::IncidentId;

/// Rows per page unless asked otherwise, and at most.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// How old the incidents to list are, as the page offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Age {
    /// Detected in the last 24 hours.
    Last24Hours,
    Last7Days,
    Last30Days,
    /// Detected more than 30 days ago.
    OlderThan30Days,
}

impl Age {
    pub const ALL: [Age; 4] = [Age::Last24Hours, Age::Last7Days, Age::Last30Days, Age::OlderThan30Days];

    /// The query parameter value.
    pub fn param(self) -> &'static str {
        match self {
            Age::Last24Hours => "24h",
            Age::Last7Days => "7d",
            Age::Last30Days => "30d",
            Age::OlderThan30Days => "older-30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Age::Last24Hours => "Last 24 hours",
            Age::Last7Days => "Last 7 days",
            Age::Last30Days => "Last 30 days",
            Age::OlderThan30Days => "Older than 30 days",
        }
    }

    /// `(detected since, detected before)` as of `now`.
    pub fn bounds(self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match self {
            Age::Last24Hours => (Some(now - TimeDelta::hours(24)), None),
            Age::Last7Days => (Some(now - TimeDelta::days(7)), None),
            Age::Last30Days => (Some(now - TimeDelta::days(30)), None),
            Age::OlderThan30Days => (None, Some(now - TimeDelta::days(30))),
        }
    }
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    pub tenant: Option<TenantId>,
    /// Detected at or after.
    pub detected_since: Option<DateTime<Utc>>,
    /// Detected before.
    pub detected_before: Option<DateTime<Utc>>,
}

/// A position in the list: the last row shown. Opaque to the page (`to_token` / `parse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cursor {
    pub detected_at: DateTime<Utc>,
    pub incident_id: IncidentId,
}

impl Cursor {
    /// `<microseconds since the epoch>_<incident id>`: exact (PostgreSQL keeps microseconds) and URL-safe.
    pub fn to_token(&self) -> String {
        format!("{}_{}", self.detected_at.timestamp_micros(), self.incident_id)
    }

    pub fn parse(token: &str) -> Option<Cursor> {
        let (micros, id) = token.trim().split_once('_')?;
        Some(Cursor {
            detected_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            incident_id: IncidentId::parse(id).ok()?,
        })
    }
}

crate::form! {
    /// The list's query parameters as sent (`?status=OPEN&severity=SEV2&tenant=…&age=7d&after=…&limit=50`).
    pub struct IncidentListForm / IncidentListFields {
        status: String,
        severity: String,
        tenant: String,
        age: String,
        /// The cursor token of the previous page's last row.
        after: String,
        limit: String,
    }
}

/// A list request that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentListQuery {
    pub filter: IncidentFilter,
    pub after: Option<Cursor>,
    pub limit: u32,
}

impl IncidentListQuery {
    pub fn parse(form: &IncidentListForm) -> std::result::Result<Self, FieldErrors> {
        let f = IncidentListForm::FIELDS;
        let mut e = FieldErrors::new();
        let status = form::optional_choice::<IncidentStatus>(&mut e, f.status, &form.status, "a status");
        let severity = form::optional_choice::<Severity>(&mut e, f.severity, &form.severity, "a severity");
        let tenant = match form.tenant.trim() {
            "" => None,
            t => match TenantId::parse(t) {
                Ok(id) => Some(id),
                Err(_) => {
                    e.add(f.tenant, "Choose a tenant from the list");
                    None
                }
            },
        };
        let (detected_since, detected_before) = match form.age.trim() {
            "" => (None, None),
            a => match Age::ALL.into_iter().find(|x| x.param().eq_ignore_ascii_case(a)) {
                Some(age) => age.bounds(Utc::now()),
                None => {
                    e.add(f.age, "Choose an age: 24h, 7d, 30d or older-30d");
                    (None, None)
                }
            },
        };
        let after = match form.after.trim() {
            "" => None,
            token => {
                let cursor = Cursor::parse(token);
                if cursor.is_none() {
                    e.add(f.after, "This page link is damaged; start from the first page");
                }
                cursor
            }
        };
        let limit = match form.limit.trim() {
            "" => DEFAULT_PAGE,
            l => match l.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    e.add(f.limit, format!("Choose between 1 and {MAX_PAGE} rows per page"));
                    DEFAULT_PAGE
                }
            },
        };
        e.finish(|| IncidentListQuery {
            filter: IncidentFilter { status, severity, tenant, detected_since, detected_before },
            after,
            limit,
        })
    }
}

/// One row of the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentSummary {
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub summary: String,
    pub detected_at: DateTime<Utc>,
    pub detected_by: DetectedBy,
    pub next_update_due_at: Option<DateTime<Utc>>,
    /// OPEN or MITIGATED, and the next status update is past due.
    pub update_overdue: bool,
    pub tenants: Vec<TenantRef>,
    pub version: i64,
}

/// One page, and the cursor of the next one when there is more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[derive(sqlx::FromRow)]
struct Row {
    incident_id: IncidentId,
    incident_number: i64,
    severity: String,
    status: String,
    summary: String,
    detected_at: DateTime<Utc>,
    detected_by: String,
    next_update_due_at: Option<DateTime<Utc>>,
    update_overdue: bool,
    version: i64,
}

const ROW_COLUMNS: &str = "i.incident_id, i.incident_number, i.severity, i.status, i.summary, i.detected_at, i.detected_by,
       i.next_update_due_at, (i.status in ('OPEN', 'MITIGATED') and i.next_update_due_at < now()) as update_overdue, i.version";

/// Lists incidents the actor can see. A tenant filter outside the actor's scope is refused.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject), err(Display))]
pub async fn list_incidents(pool: &PgPool, actor: &Actor, query: &IncidentListQuery) -> Result<Page<IncidentSummary>> {
    let mut envelope = Envelope::new(actor, Action::IncidentList);
    if let Some(tenant) = query.filter.tenant {
        // A tenant filter outside the actor's scope is refused (and audited), not silently emptied.
        envelope = envelope.tenant(tenant);
    }
    read(pool, envelope, async |cx| list_in(cx.db(), actor, query).await).await
}

async fn list_in(db: &mut PgConnection, actor: &Actor, query: &IncidentListQuery) -> Result<Page<IncidentSummary>> {
    let tenants: Option<Vec<TenantId>> = match (&actor.tenants, query.filter.tenant) {
        (_, Some(tenant)) => Some(vec![tenant]),
        (TenantScope::All, None) => None,
        (TenantScope::Only(ids), None) => Some(ids.iter().copied().collect()),
    };
    if tenants.as_ref().is_some_and(|t| t.is_empty()) {
        return Ok(Page { items: Vec::new(), next: None });
    }
    let limit = query.limit.clamp(1, MAX_PAGE);
    let mut sql = QueryBuilder::<Postgres>::new("");
    match &tenants {
        None => {
            sql.push(format!("select {ROW_COLUMNS} from ops.operational_incident i where true"));
            push_filters(&mut sql, query, "i", "i");
            sql.push(" order by i.detected_at desc, i.incident_id desc limit ").push_bind(i64::from(limit) + 1);
        }
        Some(tenants) => {
            let join_incident = query.filter.status.is_some() || query.filter.severity.is_some();
            sql.push(format!(
                "select {ROW_COLUMNS} from (
                   select distinct x.incident_id from unnest("
            ));
            sql.push_bind(tenants.clone());
            sql.push(
                "::uuid[]) as s(tenant_id) cross join lateral (
                   select it.incident_id, it.detected_at from ops.incident_tenant it",
            );
            if join_incident {
                sql.push(" join ops.operational_incident f on f.incident_id = it.incident_id");
            }
            sql.push(" where it.tenant_id = s.tenant_id");
            push_filters(&mut sql, query, "it", "f");
            sql.push(" order by it.detected_at desc, it.incident_id desc limit ").push_bind(i64::from(limit) + 1);
            sql.push(
                ") x
                 ) v join ops.operational_incident i on i.incident_id = v.incident_id
                 order by i.detected_at desc, i.incident_id desc limit ",
            )
            .push_bind(i64::from(limit) + 1);
        }
    }
    let mut rows = sql.build_query_as::<Row>().fetch_all(&mut *db).await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| Cursor { detected_at: r.detected_at, incident_id: r.incident_id })
    } else {
        None
    };
    let ids: Vec<IncidentId> = rows.iter().map(|r| r.incident_id).collect();
    let mut tenant_map = tenants_of(db, &ids).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let tenants = tenant_map.remove(&r.incident_id).unwrap_or_default();
            summary(r, tenants)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next })
}

/// The OPEN and MITIGATED incidents that concern `tenant` (or every tenant), newest first: what a repair
/// or a control change may be linked to. Without a tenant: every active incident the actor may see. Uses
/// `ix_incident_status_detected`.
pub async fn open_incidents(pool: &PgPool, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<IncidentSummary>> {
    let mut envelope = Envelope::new(actor, Action::IncidentList);
    if let Some(tenant) = tenant {
        envelope = envelope.tenant(tenant);
    }
    read(pool, envelope, async |cx| {
        let db = cx.db();
        let rows = sqlx::query_as::<_, Row>(&format!(
            "select {ROW_COLUMNS} from ops.operational_incident i
             where i.status in ('OPEN', 'MITIGATED')
               and ($1::uuid is null
                    or exists (select 1 from ops.incident_tenant t where t.incident_id = i.incident_id and t.tenant_id = $1)
                    or not exists (select 1 from ops.incident_tenant t where t.incident_id = i.incident_id))
             order by i.detected_at desc, i.incident_id desc limit 50"
        ))
        .bind(tenant)
        .fetch_all(&mut *db)
        .await?;
        let ids: Vec<IncidentId> = rows.iter().map(|r| r.incident_id).collect();
        let mut tenant_map = tenants_of(db, &ids).await?;
        rows.into_iter()
            .map(|r| {
                let tenants = tenant_map.remove(&r.incident_id).unwrap_or_default();
                summary(r, tenants)
            })
            .filter(|s| match s {
                Ok(s) if s.tenants.is_empty() => actor.tenants == TenantScope::All,
                Ok(s) => s.tenants.iter().any(|t| actor.can_see_tenant(t.tenant_id)),
                Err(_) => true,
            })
            .collect()
    })
    .await
}

fn summary(r: Row, tenants: Vec<TenantRef>) -> Result<IncidentSummary> {
    Ok(IncidentSummary {
        tenants,
        incident_id: r.incident_id,
        incident_number: r.incident_number,
        severity: stored(&r.severity)?,
        status: stored(&r.status)?,
        summary: r.summary,
        detected_at: r.detected_at,
        detected_by: stored(&r.detected_by)?,
        next_update_due_at: r.next_update_due_at,
        update_overdue: r.update_overdue,
        version: r.version,
    })
}

/// Adds the filter and cursor conditions; `time` is the alias holding `detected_at`/`incident_id`,
/// `row` the one holding `status`/`severity`.
fn push_filters(sql: &mut QueryBuilder<'_, Postgres>, query: &IncidentListQuery, time: &str, row: &str) {
    let f = &query.filter;
    if let Some(status) = f.status {
        sql.push(format!(" and {row}.status = ")).push_bind(status.as_str());
    }
    if let Some(severity) = f.severity {
        sql.push(format!(" and {row}.severity = ")).push_bind(severity.as_str());
    }
    if let Some(since) = f.detected_since {
        sql.push(format!(" and {time}.detected_at >= ")).push_bind(since);
    }
    if let Some(before) = f.detected_before {
        sql.push(format!(" and {time}.detected_at < ")).push_bind(before);
    }
    if let Some(after) = query.after {
        sql.push(format!(" and ({time}.detected_at, {time}.incident_id) < ("))
            .push_bind(after.detected_at)
            .push(", ")
            .push_bind(after.incident_id)
            .push(")");
    }
}

/// The tenants of the listed incidents, by incident.
async fn tenants_of(db: &mut PgConnection, ids: &[IncidentId]) -> Result<BTreeMap<IncidentId, Vec<TenantRef>>> {
    let rows = sqlx::query_as::<_, (IncidentId, TenantId, String, String)>(
        "select it.incident_id, t.tenant_id, t.slug, t.name from ops.incident_tenant it
           join platform.tenant t on t.tenant_id = it.tenant_id
         where it.incident_id = any($1) order by it.incident_id, t.slug",
    )
    .bind(ids)
    .fetch_all(db)
    .await?;
    let mut map: BTreeMap<IncidentId, Vec<TenantRef>> = BTreeMap::new();
    for (incident, tenant_id, slug, name) in rows {
        map.entry(incident).or_default().push(TenantRef { tenant_id, slug, name });
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_token() {
        let cursor = Cursor {
            detected_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            incident_id: IncidentId::new(),
        };
        assert_eq!(Cursor::parse(&cursor.to_token()), Some(cursor));
        assert_eq!(Cursor::parse("garbage"), None);
        assert_eq!(Cursor::parse("12_not-a-uuid"), None);
    }

    #[test]
    fn list_parameters_are_checked_field_by_field() {
        let form = IncidentListForm { status: "open".into(), age: "7d".into(), ..Default::default() };
        let query = IncidentListQuery::parse(&form).unwrap();
        assert_eq!(query.filter.status, Some(IncidentStatus::Open));
        assert!(query.filter.detected_since.is_some() && query.filter.detected_before.is_none());
        assert_eq!(query.limit, DEFAULT_PAGE);

        let bad = IncidentListForm {
            severity: "SEV0".into(),
            tenant: "acme".into(),
            age: "forever".into(),
            after: "x".into(),
            limit: "5000".into(),
            ..Default::default()
        };
        let errors = IncidentListQuery::parse(&bad).unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["after", "age", "limit", "severity", "tenant"]);
    }
}
