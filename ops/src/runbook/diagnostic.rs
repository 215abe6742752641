//! Running a runbook's diagnostic block from the console: the block is chosen by runbook id and number
//! (never typed SQL), its psql-style variables (`:'order_id'`) are checked against their kind and bound
//! as quoted literals the way psql does, and every statement runs in one read-only transaction under a
//! statement timeout and a lock timeout, with at most [`ROW_CAP`] rows shown each. Each column comes back
//! as PostgreSQL's own text form, so any type shows. A run for an incident lands on its timeline.
//!
//! Tenant scope: a block that takes `:'tenant_id'` runs for that tenant, which must be in the actor's
//! scope; any other block reads across tenants and needs an actor scoped to every tenant.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use serde::Serialize;
use serde_json::json;
use sqlx::{Column, Executor, PgPool, Row};
use uuid::Uuid;

use super::document::{Diagnostic, Runbook};
use crate::command::{run, Action, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;
use crate::ids::IncidentId;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::{require_active_incident, EventKind};

/// The most rows a statement shows.
pub const ROW_CAP: usize = 200;
/// How long one statement may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a variable holds, and so how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParamKind {
    /// An entity id.
    Uuid,
    /// A point in time (RFC 3339 or `2026-11-28 10:00`), read as UTC.
    Time,
    /// A consumer group or similar name: letters, digits, `.`, `_`, `-`.
    Name,
}

/// A variable a block takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// What the page fills in when nothing is given (a time window's usual bounds).
    pub default: Option<&'static str>,
}

/// The variables runbooks may use, and their kinds. A runbook using another fails its tests.
fn kind_of(name: &str) -> Option<(ParamKind, Option<&'static str>)> {
    Some(match name {
        "tenant_id" | "order_id" | "quote_id" | "approval_request_id" | "message_id" | "outbox_event_id"
        | "order_line_id" | "repair_id" | "incident_id" => (ParamKind::Uuid, None),
        "window_start" => (ParamKind::Time, Some("24 hours ago")),
        "window_end" => (ParamKind::Time, Some("now")),
        "released_at" => (ParamKind::Time, Some("1 hour ago")),
        "consumer_group" => (ParamKind::Name, None),
        _ => return None,
    })
}

/// The psql variables (`:'name'`) a block uses, in order of first use. Casts (`::uuid`) are not variables.
pub(super) fn params_of(sql: &str) -> std::result::Result<Vec<Param>, String> {
    let mut out: Vec<Param> = Vec::new();
    for name in variables(sql) {
        if out.iter().any(|p| p.name == name) {
            continue;
        }
        let (kind, default) = kind_of(&name).ok_or_else(|| format!("unknown variable :'{name}'"))?;
        out.push(Param { name, kind, default });
    }
    Ok(out)
}

/// Every `:'name'` outside comments.
fn variables(sql: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find(":'") {
            let before = &rest[..at];
            rest = &rest[at + 2..];
            if before.ends_with(':') {
                continue; // `::'…'` is not a variable
            }
            let Some(end) = rest.find('\'') else { break };
            let name = &rest[..end];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                names.push(name.to_string());
            }
            rest = &rest[end + 1..];
        }
    }
    names
}

/// A checked value, as the SQL literal psql would substitute.
fn literal(param: &Param, input: &str) -> std::result::Result<String, String> {
    let input = input.trim();
    let value = match param.kind {
        ParamKind::Uuid => Uuid::parse_str(input).map_err(|_| "Not an id (a UUID)".to_string())?.to_string(),
        ParamKind::Time => {
            let now = Utc::now();
            let at: DateTime<Utc> = match input {
                "now" => now,
                "24 hours ago" => now - chrono::Duration::hours(24),
                "1 hour ago" => now - chrono::Duration::hours(1),
                other => parse::parse_time(other).ok_or("Not a time: use 2026-11-28 10:00 (UTC)")?,
            };
            at.to_rfc3339()
        }
        ParamKind::Name => {
            let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            if input.is_empty() || input.len() > 200 || !input.chars().all(legal) {
                return Err("Letters, digits, '.', '_' and '-' only".to_string());
            }
            input.to_string()
        }
    };
    // Every kind above is free of quotes; doubling them keeps the literal closed whatever comes.
    Ok(format!("'{}'", value.replace('\'', "''")))
}

fn substitute(sql: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = sql.to_string();
    for (name, literal) in values {
        out = out.replace(&format!(":'{name}'"), literal);
    }
    out
}

crate::form! {
    /// Running one diagnostic block: which one, its variables (`param_<name>`), and the incident it serves.
    pub struct DiagnosticForm / DiagnosticFields {
        incident_id: String,
        param_tenant_id: String,
        param_order_id: String,
        param_quote_id: String,
        param_approval_request_id: String,
        param_message_id: String,
        param_outbox_event_id: String,
        param_order_line_id: String,
        param_repair_id: String,
        param_incident_id: String,
        param_window_start: String,
        param_window_end: String,
        param_released_at: String,
        param_consumer_group: String,
    }
}

impl DiagnosticForm {
    /// The posted value of a variable.
    pub fn value(&self, name: &str) -> &str {
        match name {
            "tenant_id" => &self.param_tenant_id,
            "order_id" => &self.param_order_id,
            "quote_id" => &self.param_quote_id,
            "approval_request_id" => &self.param_approval_request_id,
            "message_id" => &self.param_message_id,
            "outbox_event_id" => &self.param_outbox_event_id,
            "order_line_id" => &self.param_order_line_id,
            "repair_id" => &self.param_repair_id,
            "incident_id" => &self.param_incident_id,
            "window_start" => &self.param_window_start,
            "window_end" => &self.param_window_end,
            "released_at" => &self.param_released_at,
            "consumer_group" => &self.param_consumer_group,
            _ => "",
        }
    }

    /// The form field of a variable.
    pub fn field(name: &str) -> &'static str {
        let f = Self::FIELDS;
        match name {
            "tenant_id" => f.param_tenant_id,
            "order_id" => f.param_order_id,
            "quote_id" => f.param_quote_id,
            "approval_request_id" => f.param_approval_request_id,
            "message_id" => f.param_message_id,
            "outbox_event_id" => f.param_outbox_event_id,
            "order_line_id" => f.param_order_line_id,
            "repair_id" => f.param_repair_id,
            "incident_id" => f.param_incident_id,
            "window_start" => f.param_window_start,
            "window_end" => f.param_window_end,
            "released_at" => f.param_released_at,
            _ => f.param_consumer_group,
        }
    }
}

/// A run that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticForRun {
    pub runbook: &'static Runbook,
    pub diagnostic: &'static Diagnostic,
    /// Variable → SQL literal.
    pub values: BTreeMap<String, String>,
    pub tenant: Option<TenantId>,
    pub incident: Option<IncidentId>,
}

impl DiagnosticForRun {
    pub fn parse(runbook_id: &str, index: usize, form: &DiagnosticForm) -> Result<Self> {
        let runbook = super::get(runbook_id).ok_or_else(|| Error::not_found("runbook", runbook_id))?;
        let diagnostic = runbook
            .diagnostics
            .get(index)
            .ok_or_else(|| Error::not_found("diagnostic", format!("{runbook_id} #{index}")))?;
        if !diagnostic.runnable() {
            return Err(Error::rule("this block changes state: the console shows it and never runs it"));
        }
        let mut e = FieldErrors::new();
        let mut values = BTreeMap::new();
        for param in &diagnostic.params {
            let given = form.value(&param.name);
            let input = if given.trim().is_empty() { param.default.unwrap_or("") } else { given };
            if input.trim().is_empty() {
                e.add(DiagnosticForm::field(&param.name), format!("Give {}", param.name.replace('_', " ")));
                continue;
            }
            match literal(param, input) {
                Ok(l) => {
                    values.insert(param.name.clone(), l);
                }
                Err(message) => e.add(DiagnosticForm::field(&param.name), message),
            }
        }
        let incident =
            crate::form::parse::optional_incident(&mut e, DiagnosticForm::FIELDS.incident_id, &form.incident_id, "Not an incident id");
        let tenant = values.get("tenant_id").and_then(|l| TenantId::parse(l.trim_matches('\'')).ok());
        e.finish(|| DiagnosticForRun { runbook, diagnostic, values, tenant, incident }).map_err(Error::Invalid)
    }
}

/// One statement's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementResult {
    pub sql: String,
    pub columns: Vec<String>,
    /// Each value in PostgreSQL's text form; `None` for NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than [`ROW_CAP`].
    pub truncated: bool,
    /// What PostgreSQL said when the statement failed (an extension not installed, the timeout).
    pub error: Option<String>,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticRun {
    pub runbook_id: String,
    pub index: usize,
    pub title: String,
    pub ran_at: DateTime<Utc>,
    pub millis: u64,
    pub statements: Vec<StatementResult>,
    pub incident: Option<IncidentId>,
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs the block (see the module doc).
#[tracing::instrument(skip_all, fields(actor = %actor.subject, runbook = %input.runbook.front.id, block = input.diagnostic.index))]
pub async fn run_diagnostic(pool: &PgPool, actor: &Actor, input: &DiagnosticForRun) -> Result<DiagnosticRun> {
    let mut envelope = Envelope::new(actor, Action::DiagnosticRun);
    if let Some(incident) = input.incident {
        envelope = envelope.incident(incident);
    }
    run(pool, envelope, async |cx| {
        cx.require_tenants(&input.tenant.into_iter().collect::<Vec<_>>())?;
        if let Some(incident) = input.incident {
            require_active_incident(cx, incident, DiagnosticForm::FIELDS.incident_id, input.tenant).await?;
        }
        let started = Instant::now();
        let mut statements = Vec::new();
        // The diagnostics read in a transaction of their own: read-only, bounded, and whatever fails in one
        // statement (a missing extension) leaves the others and the command's own transaction alone.
        let mut tx = pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only").execute(&mut *tx).await?;
        sqlx::query(&format!("set local statement_timeout = {}", STATEMENT_TIMEOUT.as_millis())).execute(&mut *tx).await?;
        sqlx::query("set local lock_timeout = 1000").execute(&mut *tx).await?;
        for (n, statement) in input.diagnostic.statements.iter().enumerate() {
            let sql = substitute(&statement.sql, &input.values);
            let savepoint = format!("diagnostic_{n}");
            sqlx::query(&format!("savepoint {savepoint}")).execute(&mut *tx).await?;
            let answer = read_statement(&mut tx, &sql).await;
            let result = match answer {
                Ok((columns, rows, truncated)) => StatementResult { sql, columns, rows, truncated, error: None },
                Err(error) => {
                    sqlx::query(&format!("rollback to savepoint {savepoint}")).execute(&mut *tx).await?;
                    let message = match &error {
                        sqlx::Error::Database(db) => db.message().to_string(),
                        other => other.to_string(),
                    };
                    StatementResult { sql, columns: Vec::new(), rows: Vec::new(), truncated: false, error: Some(message) }
                }
            };
            statements.push(result);
        }
        tx.rollback().await?;
        let millis = started.elapsed().as_millis() as u64;
        let summary: Vec<serde_json::Value> = statements
            .iter()
            .map(|s| json!({ "rows": s.rows.len(), "truncated": s.truncated, "error": s.error }))
            .collect();
        let params: BTreeMap<&str, &str> = input.values.iter().map(|(k, v)| (k.as_str(), v.trim_matches('\''))).collect();
        if let Some(incident) = input.incident {
            let who = cx.actor_display();
            let rows: usize = statements.iter().map(|s| s.rows.len()).sum();
            timeline::append(
                cx.db(),
                NewEvent {
                    incident_id: incident,
                    kind: EventKind::System,
                    event_type: timeline::event_type::DIAGNOSTIC_RUN,
                    actor: &who,
                    headline: format!("Ran \"{}\" ({}): {rows} rows", input.diagnostic.title, input.runbook.front.title),
                    body: json!({ "runbook": input.runbook.front.id, "block": input.diagnostic.index, "params": params,
                                  "statements": summary, "millis": millis }),
                    entities: &[],
                },
            )
            .await?;
        }
        cx.record(json!({ "runbook": input.runbook.front.id, "block": input.diagnostic.index, "params": params, "statements": summary }));
        metrics::counter!("opsdeck_diagnostic_runs_total", "runbook" => input.runbook.front.id.clone()).increment(1);
        Ok(DiagnosticRun {
            runbook_id: input.runbook.front.id.clone(),
            index: input.diagnostic.index,
            title: input.diagnostic.title.clone(),
            ran_at: Utc::now(),
            millis,
            statements,
            incident: input.incident,
        })
    })
    .await
}

type Table = (Vec<String>, Vec<Vec<Option<String>>>, bool);

/// Describes the statement for its columns, then reads each column as text through a column alias list
/// (so duplicate or odd names are fine), one row more than the cap to know whether there were more.
async fn read_statement(tx: &mut sqlx::PgConnection, sql: &str) -> std::result::Result<Table, sqlx::Error> {
    let described = (&mut *tx).describe(sql).await?;
    let columns: Vec<String> = described.columns().iter().map(|c| c.name().to_string()).collect();
    if columns.is_empty() {
        return Ok((columns, Vec::new(), false));
    }
    let aliases: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    let select: Vec<String> = aliases.iter().map(|a| format!("{}::text", quote_ident(a))).collect();
    let wrapped = format!("select {} from (\n{sql}\n) as diagnostic({}) limit {}", select.join(", "), aliases.join(", "), ROW_CAP + 1);
    let fetched = sqlx::query(&wrapped).fetch_all(&mut *tx).await?;
    let truncated = fetched.len() > ROW_CAP;
    let rows = fetched
        .iter()
        .take(ROW_CAP)
        .map(|row| (0..row.columns().len()).map(|i| row.try_get::<Option<String>, _>(i).unwrap_or(None)).collect())
        .collect();
    Ok((columns, rows, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_psql_style_and_casts_are_not_variables() {
        let sql = "select '{}'::jsonb, x::text from t where id = :'order_id' -- and :'ignored'\n and q = :'quote_id' and o = :'order_id'";
        assert_eq!(variables(sql), ["order_id", "quote_id", "order_id"]);
        let params = params_of(sql).unwrap();
        assert_eq!(params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["order_id", "quote_id"]);
        assert!(params_of("select :'drop_table'").is_err(), "a variable the console does not know is refused");
    }

    #[test]
    fn values_are_checked_by_kind_and_bound_as_closed_literals() {
        let id = Param { name: "order_id".into(), kind: ParamKind::Uuid, default: None };
        assert!(literal(&id, "1; drop table x").is_err());
        let u = Uuid::now_v7();
        assert_eq!(literal(&id, &u.to_string()).unwrap(), format!("'{u}'"));
        let group = Param { name: "consumer_group".into(), kind: ParamKind::Name, default: None };
        assert!(literal(&group, "x' or '1'='1").is_err());
        let at = Param { name: "window_start".into(), kind: ParamKind::Time, default: Some("24 hours ago") };
        assert!(literal(&at, "2026-11-28 10:00").unwrap().starts_with("'2026-11-28T10:00:00"));
        let mut values = BTreeMap::new();
        values.insert("order_id".to_string(), format!("'{u}'"));
        assert_eq!(substitute("where id = :'order_id'", &values), format!("where id = '{u}'"));
    }
}
