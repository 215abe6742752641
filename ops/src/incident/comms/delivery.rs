//! The delivery worker: sends queued status updates to their webhooks, retries with backoff, and records
//! every attempt on the delivery row (`ops.notification_delivery`: attempts, last_error, last_attempt_at,
//! next_attempt_at) — DELIVERED on a 2xx answer, PENDING again after a failure, FAILED for good after
//! [`DeliveryPolicy::max_attempts`] (also told on the incident's timeline, so nobody believes customers
//! were told what they were not).
//!
//! One delivery per transaction: the row is claimed `for update skip locked`, sent, and settled before
//! the commit, so any number of workers can run side by side and a worker that dies mid-send leaves the
//! row PENDING to be sent again (at-least-once; Slack shows a repeat, never a gap). A webhook URL never
//! reaches a log or `last_error`: reqwest errors are stripped of it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::named_enum;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::status_update::{webhook_text, Audience, UpdateStatus};
use super::webhook::Webhooks;
use crate::command::{read, Action, Envelope};
use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::incident::command::{visible_incident, AUDIT_ENTITY};
use crate::ids::{DeliveryId, IncidentId, StatusUpdateId};
use crate::incident::model::{stored, EventKind, Severity};
use crate::incident::timeline::{self, event_type, NewEvent};

named_enum!(/// Where one delivery stands.
DeliveryStatus {
    Pending => "PENDING",
    Delivered => "DELIVERED",
    Failed => "FAILED",
});

/// How hard the worker tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts before a delivery is FAILED for good.
    pub max_attempts: i32,
    /// Wait after the first failure; doubled after each further one, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Per request.
    pub timeout: Duration,
    /// Deliveries attempted by one [`deliver_pending_with`] call at most.
    pub batch: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 8,
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
            batch: 100,
        }
    }
}

impl DeliveryPolicy {
    /// The wait after the `attempts`-th failed attempt (1-based).
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.max(1) - 1).unwrap_or(0).min(20);
        self.base_backoff.saturating_mul(1 << exponent).min(self.max_backoff)
    }
}

/// What one [`deliver_pending`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub attempted: u32,
    pub delivered: u32,
    /// Failed this time, to be retried after the backoff.
    pub retrying: u32,
    /// Failed for good (out of attempts, or the webhook is no longer configured).
    pub failed: u32,
    /// The last failure's message (URL-free).
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    delivery_id: DeliveryId,
    webhook_name: String,
    attempts: i32,
    update_id: StatusUpdateId,
    audience: String,
    update_status: String,
    severity: String,
    body: String,
    next_update_at: Option<DateTime<Utc>>,
    incident_id: IncidentId,
    incident_number: i64,
}

/// Sends every delivery that is due, with the default policy.
pub async fn deliver_pending(pool: &PgPool, webhooks: &Webhooks, http: &reqwest::Client) -> Result<DeliveryReport> {
    deliver_pending_with(pool, webhooks, http, &DeliveryPolicy::default()).await
}

/// Sends every delivery that is due (each at most once per call), up to `policy.batch`.
#[tracing::instrument(skip_all, err(Display))]
pub async fn deliver_pending_with(
    pool: &PgPool,
    webhooks: &Webhooks,
    http: &reqwest::Client,
    policy: &DeliveryPolicy,
) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let mut tried: Vec<DeliveryId> = Vec::new();
    while report.attempted < policy.batch {
        let mut tx = pool.begin().await?;
        // Relies on ix_notification_delivery_due (next_attempt_at) where status = 'PENDING'.
        let claimed = sqlx::query_as::<_, Claimed>(
            "select d.delivery_id, d.webhook_name, d.attempts, s.update_id, s.audience, s.update_status, s.severity, s.body,
                    s.next_update_at, i.incident_id, i.incident_number
             from ops.notification_delivery d
               join ops.status_update s on s.update_id = d.update_id
               join ops.operational_incident i on i.incident_id = s.incident_id
             where d.status = 'PENDING' and d.next_attempt_at <= now() and not (d.delivery_id = any($1))
             order by d.next_attempt_at, d.delivery_id
             limit 1
             for update of d skip locked",
        )
        .bind(&tried)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(claimed) = claimed else {
            tx.rollback().await?;
            break;
        };
        tried.push(claimed.delivery_id);
        report.attempted += 1;

        let outcome = match webhooks.get(&claimed.webhook_name) {
            None => Err((format!("webhook {:?} is no longer configured", claimed.webhook_name), false)),
            Some(webhook) => {
                let audience: Audience = stored(&claimed.audience)?;
                if !webhook.receives(audience) {
                    Err((format!("webhook {:?} no longer receives {audience} updates", claimed.webhook_name), false))
                } else {
                    let text = webhook_text(
                        claimed.incident_number,
                        stored::<Severity>(&claimed.severity)?,
                        audience,
                        stored::<UpdateStatus>(&claimed.update_status)?,
                        &claimed.body,
                        claimed.next_update_at,
                    );
                    send(http, webhook.url.expose().clone(), &text, policy.timeout).await.map_err(|e| (e, true))
                }
            }
        };
        let attempts = claimed.attempts + 1;
        let now = Utc::now();
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "update ops.notification_delivery set status = 'DELIVERED', attempts = $2, last_attempt_at = $3,
                       delivered_at = $3, last_error = null where delivery_id = $1",
                )
                .bind(claimed.delivery_id)
                .bind(attempts)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                report.delivered += 1;
                tracing::info!(delivery_id = %claimed.delivery_id, webhook = %claimed.webhook_name, attempts, "status update delivered");
            }
            Err((error, retryable)) => {
                let give_up = !retryable || attempts >= policy.max_attempts;
                let next =
                    now + chrono::TimeDelta::from_std(policy.backoff(attempts)).unwrap_or(chrono::TimeDelta::MAX);
                sqlx::query(
                    "update ops.notification_delivery set status = $2, attempts = $3, last_attempt_at = $4, last_error = $5,
                       next_attempt_at = $6 where delivery_id = $1",
                )
                .bind(claimed.delivery_id)
                .bind(if give_up { "FAILED" } else { "PENDING" })
                .bind(attempts)
                .bind(now)
                .bind(&error)
                .bind(next)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(delivery_id = %claimed.delivery_id, webhook = %claimed.webhook_name, attempts, give_up, %error, "status update delivery failed");
                if give_up {
                    report.failed += 1;
                    record_failure(&mut tx, &claimed, attempts, &error).await?;
                } else {
                    report.retrying += 1;
                }
                report.last_error = Some(error);
            }
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// POSTs `{"text": ...}`; a 2xx answer is delivered. The error text never holds the URL.
async fn send(
    http: &reqwest::Client,
    url: reqwest::Url,
    text: &str,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let response = http
        .post(url)
        .timeout(timeout)
        .json(&json!({ "text": text }))
        .send()
        .await
        .map_err(|e| format!("request failed: {}", e.without_url()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().filter(|c| !c.is_control()).take(200).collect();
    Err(if body.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {body}") })
}

async fn record_failure(tx: &mut PgConnection, claimed: &Claimed, attempts: i32, error: &str) -> Result<()> {
    timeline::append(
        tx,
        NewEvent {
            incident_id: claimed.incident_id,
            kind: EventKind::System,
            event_type: event_type::NOTIFICATION_FAILED,
            actor: &Actor::system("notify").display(),
            headline: format!(
                "Status update NOT delivered to {} after {attempts} attempts: {error}",
                claimed.webhook_name
            ),
            body: json!({
                "update_id": claimed.update_id,
                "delivery_id": claimed.delivery_id,
                "webhook": claimed.webhook_name,
                "attempts": attempts,
                "last_error": error,
            }),
            entities: &[],
        },
    )
    .await?;
    Ok(())
}

/// Runs [`deliver_pending_with`] every `every` until `stop` turns true (the server's background job).
pub async fn run_delivery_worker(
    pool: PgPool,
    webhooks: Webhooks,
    http: reqwest::Client,
    policy: DeliveryPolicy,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(error) = deliver_pending_with(&pool, &webhooks, &http, &policy).await {
            tracing::error!(%error, "status update delivery round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One delivery as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub delivery_id: DeliveryId,
    pub webhook_name: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    update_id: StatusUpdateId,
    delivery_id: DeliveryId,
    webhook_name: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
}

/// Deliveries of the given updates, by update, each list by webhook name. Relies on the unique index
/// `(update_id, webhook_name)`.
pub(crate) async fn deliveries_of(
    db: &mut PgConnection,
    updates: &[StatusUpdateId],
) -> Result<HashMap<StatusUpdateId, Vec<Delivery>>> {
    let rows = sqlx::query_as::<_, DeliveryRow>(
        "select update_id, delivery_id, webhook_name, status, attempts, last_error, last_attempt_at, next_attempt_at,
                delivered_at
         from ops.notification_delivery where update_id = any($1) order by update_id, webhook_name",
    )
    .bind(updates)
    .fetch_all(db)
    .await?;
    let mut map: HashMap<StatusUpdateId, Vec<Delivery>> = HashMap::new();
    for r in rows {
        let status = stored(&r.status)?;
        // Pending rows are due again at next_attempt_at; settled rows have no next attempt.
        let next_attempt_at = (status == DeliveryStatus::Pending).then_some(r.next_attempt_at).flatten();
        map.entry(r.update_id).or_default().push(Delivery {
            delivery_id: r.delivery_id,
            webhook_name: r.webhook_name,
            status,
            attempts: r.attempts,
            last_error: r.last_error,
            last_attempt_at: r.last_attempt_at,
            next_attempt_at,
            delivered_at: r.delivered_at,
        });
    }
    Ok(map)
}

/// The delivery status of one update of an incident the actor can see.
pub async fn deliveries_for_update(pool: &PgPool, actor: &Actor, update_id: StatusUpdateId) -> Result<Vec<Delivery>> {
    read(pool, Envelope::new(actor, Action::IncidentRead), async |cx| {
        let incident: IncidentId =
            sqlx::query_scalar("select incident_id from ops.status_update where update_id = $1")
                .bind(update_id)
                .fetch_optional(cx.db())
                .await?
                .ok_or_else(|| Error::not_found("status update", update_id))?;
        cx.about(AUDIT_ENTITY, incident);
        visible_incident(cx, incident).await?;
        Ok(deliveries_of(cx.db(), &[update_id]).await?.remove(&update_id).unwrap_or_default())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let policy = DeliveryPolicy {
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            ..Default::default()
        };
        let waits: Vec<u64> = (1..=6).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(policy.backoff(1_000).as_secs(), 60);
    }
}
