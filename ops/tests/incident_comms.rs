//! Status updates (lesson §20) against a real PostgreSQL and a real local HTTP receiver: the next-update
//! cadence and the overdue flag, the outbox event and delivery rows written with the update, and the
//! delivery worker's retries, backoff and give-up — never leaking a webhook URL.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use chrono::Utc;
use common::*;
use ops::incident::*;
use platform::tenants::ACME;
use sqlx::PgPool;

/// A webhook receiver on 127.0.0.1:0 that answers 503 to the first `fail_first` requests and 200 after,
/// recording every body it was sent.
#[derive(Clone, Default)]
struct Receiver {
    fail_first: Arc<Mutex<usize>>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Receiver, String) {
        let receiver = Receiver { fail_first: Arc::new(Mutex::new(fail_first)), ..Default::default() };
        let app = Router::new().fallback(receive).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, base)
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().iter().map(|b| serde_json::from_str(b).unwrap()).collect()
    }
}

async fn receive(State(receiver): State<Receiver>, body: String) -> (StatusCode, &'static str) {
    receiver.bodies.lock().unwrap().push(body);
    let mut fail = receiver.fail_first.lock().unwrap();
    if *fail > 0 {
        *fail -= 1;
        (StatusCode::SERVICE_UNAVAILABLE, "busy")
    } else {
        (StatusCode::OK, "ok")
    }
}

const SECRET: &str = "T0000-B0000-SECRET-TOKEN";

fn webhooks(base: &str) -> Webhooks {
    let url = |path: &str| WebhookUrl::parse(&format!("{base}/{path}/{SECRET}")).unwrap();
    Webhooks::new(vec![
        WebhookConfig::new("ops-internal", url("internal"), [Audience::Internal]),
        WebhookConfig::new("status-page", url("customer"), [Audience::Customer]).for_tenants(["acme"]),
    ])
    .unwrap()
}

fn quick(max_attempts: i32, base_backoff: Duration) -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts,
        base_backoff,
        max_backoff: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
        batch: 10,
    }
}

async fn delivery_row(pool: &PgPool, update: StatusUpdateId) -> (String, i32, Option<String>) {
    sqlx::query_as("select status, attempts, last_error from ops.notification_delivery where update_id = $1")
        .bind(update)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_update_is_retried_with_backoff_until_the_webhook_accepts_it(pool: PgPool) {
    world(&pool, ACME, "1").await;
    let (receiver, base) = Receiver::start(2).await;
    let hooks = webhooks(&base);
    let declared = declare(&pool, &operator(), "SEV2", &[ACME], &[]).await;
    let posted = post_status_update(
        &pool,
        &comms(),
        declared.incident_id,
        1,
        &StatusUpdateForPost::parse(&internal_update()).unwrap(),
        &hooks,
    )
    .await
    .unwrap();
    assert_eq!(posted.webhooks, ["ops-internal"], "an internal update goes to internal webhooks only");

    // Written with the update, in its transaction: the outbox event and one PENDING delivery per webhook.
    let (tenant, aggregate, event, text): (uuid::Uuid, uuid::Uuid, String, String) = sqlx::query_as(
        "select tenant_id, aggregate_id, event_type, payload->>'text' from messaging.outbox_event where aggregate_type = 'incident'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (tenant, aggregate, event.as_str()),
        (ACME.as_uuid(), declared.incident_id.as_uuid(), "StatusUpdatePosted")
    );
    assert!(
        text.starts_with(&format!("*INC-{} · SEV-2 · Investigating* (internal update)", declared.incident_number)),
        "{text}"
    );
    assert_eq!(delivery_row(&pool, posted.update_id).await, ("PENDING".into(), 0, None));

    let http = reqwest::Client::new();
    let policy = quick(5, Duration::from_secs(1));
    let first = deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap();
    assert_eq!((first.attempted, first.retrying, first.delivered), (1, 1, 0));
    assert_eq!(first.last_error.as_deref(), Some("HTTP 503 Service Unavailable: busy"));
    let waiting = deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap();
    assert_eq!(waiting.attempted, 0, "within its backoff a delivery is not tried again");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let second = deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap();
    assert_eq!((second.attempted, second.retrying), (1, 1));
    assert_eq!(delivery_row(&pool, posted.update_id).await.1, 2);
    let deliveries = deliveries_for_update(&pool, &viewer(), posted.update_id).await.unwrap();
    assert_eq!(deliveries[0].status, DeliveryStatus::Pending);
    assert!(deliveries[0].next_attempt_at.unwrap() > deliveries[0].last_attempt_at.unwrap());

    // The second failure doubled the wait.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let third = deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap();
    assert_eq!((third.attempted, third.delivered), (1, 1));
    assert_eq!(delivery_row(&pool, posted.update_id).await, ("DELIVERED".into(), 3, None));

    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| b == &serde_json::json!({ "text": text })), "{bodies:?}");
    let shown = &detail(&pool, declared.incident_id).await.updates[0];
    assert_eq!(
        (shown.deliveries[0].webhook_name.as_str(), shown.deliveries[0].status),
        ("ops-internal", DeliveryStatus::Delivered)
    );
    assert!(shown.body.contains("Customer impact: Submitted orders stay pending"));
    // Nothing further is due.
    assert_eq!(deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap().attempted, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_delivery_that_keeps_failing_fails_for_good_on_the_timeline_without_leaking_the_url(pool: PgPool) {
    world(&pool, ACME, "2").await;
    let (_receiver, base) = Receiver::start(usize::MAX).await;
    let hooks = webhooks(&base);
    // And a webhook nobody listens on: the connection is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let dead = Webhooks::new(vec![WebhookConfig::new(
        "dead-end",
        WebhookUrl::parse(&format!("http://{closed}/hooks/{SECRET}")).unwrap(),
        [Audience::Internal],
    )])
    .unwrap();

    let declared = declare(&pool, &operator(), "SEV2", &[ACME], &[]).await;
    let update = StatusUpdateForPost::parse(&internal_update()).unwrap();
    let busy = post_status_update(&pool, &comms(), declared.incident_id, 1, &update, &hooks).await.unwrap();
    let http = reqwest::Client::new();
    let policy = quick(2, Duration::ZERO);
    let first = deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap();
    assert_eq!(first.retrying, 1);
    let second = deliver_pending_with(&pool, &hooks, &http, &policy).await.unwrap();
    assert_eq!((second.failed, second.retrying), (1, 0));
    let (status, attempts, error) = delivery_row(&pool, busy.update_id).await;
    assert_eq!((status.as_str(), attempts), ("FAILED", 2));
    assert_eq!(error.as_deref(), Some("HTTP 503 Service Unavailable: busy"));

    let refused = post_status_update(&pool, &comms(), declared.incident_id, 1, &update, &dead).await.unwrap();
    for _ in 0..2 {
        deliver_pending_with(&pool, &dead, &http, &policy).await.unwrap();
    }
    let (status, _, error) = delivery_row(&pool, refused.update_id).await;
    let error = error.unwrap();
    assert_eq!(status, "FAILED");
    assert!(error.starts_with("request failed"), "{error}");
    for leak in [SECRET, "/hooks/", &closed.to_string()] {
        assert!(!error.contains(leak), "{leak} in {error}");
    }

    let failures: Vec<TimelineEvent> = timeline(&pool, &viewer(), declared.incident_id, TimelineFilter::ALL)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "NOTIFICATION_FAILED")
        .collect();
    assert_eq!(failures.len(), 2);
    assert!(
        failures[0].headline.starts_with("Status update NOT delivered to ops-internal after 2 attempts"),
        "{}",
        failures[0].headline
    );
    assert_eq!(failures[0].actor, "notify (system:notify)");
    let everything = sqlx::query_scalar::<_, String>("select body::text from ops.incident_event")
        .fetch_all(&pool)
        .await
        .unwrap()
        .join("\n");
    assert!(!everything.contains(SECRET));
    // A webhook dropped from the configuration fails at once, saying so.
    let orphan = post_status_update(&pool, &comms(), declared.incident_id, 1, &update, &hooks).await.unwrap();
    deliver_pending_with(&pool, &Webhooks::none(), &http, &policy).await.unwrap();
    let (status, attempts, error) = delivery_row(&pool, orphan.update_id).await;
    assert_eq!((status.as_str(), attempts), ("FAILED", 1));
    assert_eq!(error.as_deref(), Some("webhook \"ops-internal\" is no longer configured"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_customer_update_reaches_only_customer_webhooks_with_only_its_guarded_text(pool: PgPool) {
    world(&pool, ACME, "3").await;
    let (receiver, base) = Receiver::start(0).await;
    let hooks = webhooks(&base);
    let declared = declare(&pool, &operator(), "SEV2", &[ACME], &[]).await;
    let message = "Some submitted orders are delayed in processing.";
    let update = StatusUpdateForPost::parse(&customer_update(message)).unwrap();
    let posted = post_status_update(&pool, &comms(), declared.incident_id, 1, &update, &hooks).await.unwrap();
    assert_eq!(posted.webhooks, ["status-page"]);
    let report = deliver_pending(&pool, &hooks, &reqwest::Client::new()).await.unwrap();
    assert_eq!(report.delivered, 1);
    let text = receiver.bodies()[0]["text"].as_str().unwrap().to_string();
    assert_eq!(
        text,
        format!(
            "Service update: Investigating\nAffected: Order processing\n{message}\nWhat you need to do: Nothing\n\
             Next update by {} UTC.",
            posted.next_update_due_at.format("%Y-%m-%d %H:%M")
        )
    );
    let stored: (Option<String>, String) =
        sqlx::query_as("select current_hypothesis, audience from ops.status_update").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, (None, "CUSTOMER".into()), "nothing of the internal template is kept with a customer update");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_customer_update_naming_internals_is_refused_with_the_words_and_nothing_is_written(pool: PgPool) {
    world(&pool, ACME, "4").await;
    declare(&pool, &operator(), "SEV2", &[ACME], &[]).await;
    let before = footprint(&pool).await;
    for (text, words) in [
        (
            "Camunda job executor failed because Kafka consumer lag caused order worker retries.",
            vec!["Camunda", "job executor", "Kafka", "consumer lag"],
        ),
        ("We restarted redis on 10.0.4.12 after a deadlock", vec!["redis", "10.0.4.12", "deadlock"]),
        ("Fixed with UPDATE sales_order SET status = 'FAILED'", vec!["UPDATE sales_order SET status ="]),
        ("Error at com.acme.orders.Worker.run(Worker.java:88)", vec!["at com.acme.orders.Worker.run(Worker.java:88)"]),
    ] {
        let errors = StatusUpdateForPost::parse(&customer_update(text)).unwrap_err();
        let message = errors.get("message").unwrap();
        for word in words {
            assert!(message.contains(&format!("\"{word}\"")), "{word} not listed in {message}");
        }
    }
    assert_eq!(footprint(&pool).await, before);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn each_update_sets_when_the_next_is_due_and_an_overdue_incident_is_flagged_until_one_is_posted(pool: PgPool) {
    world(&pool, ACME, "5").await;
    let declared = declare(&pool, &operator(), "SEV2", &[ACME], &[]).await;
    let due = declared.next_update_due_at - Utc::now();
    assert!(due > chrono::Duration::minutes(59) && due <= chrono::Duration::minutes(60), "SEV2: an update every hour");

    sqlx::query("update ops.operational_incident set next_update_due_at = now() - interval '5 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    let listed = list_incidents(&pool, &viewer(), &IncidentListQuery::parse(&IncidentListForm::default()).unwrap())
        .await
        .unwrap();
    assert!(listed.items[0].update_overdue);
    assert!(detail(&pool, declared.incident_id).await.update_overdue);

    let too_late = StatusUpdateForm {
        next_update_at: (Utc::now() + chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M").to_string(),
        ..internal_update()
    };
    let err = post_status_update(
        &pool,
        &comms(),
        declared.incident_id,
        1,
        &StatusUpdateForPost::parse(&too_late).unwrap(),
        &Webhooks::none(),
    )
    .await
    .unwrap_err();
    let message = err.field_errors().unwrap().get("next_update_at").unwrap().to_string();
    assert!(message.starts_with("SEV-2 updates are due at least every 60 minutes: choose "), "{message}");

    let soon = Utc::now() + chrono::Duration::minutes(20);
    let chosen = StatusUpdateForm { next_update_at: soon.to_rfc3339(), ..internal_update() };
    let posted = post_status_update(
        &pool,
        &comms(),
        declared.incident_id,
        1,
        &StatusUpdateForPost::parse(&chosen).unwrap(),
        &Webhooks::none(),
    )
    .await
    .unwrap();
    assert_eq!(posted.next_update_due_at.timestamp(), soon.timestamp());
    let d = detail(&pool, declared.incident_id).await;
    assert!(!d.update_overdue);
    assert_eq!(d.updates[0].next_update_at.map(|t| t.timestamp()), Some(soon.timestamp()));

    // Resolved incidents owe no updates.
    let resolved = change_status(
        &pool,
        &operator(),
        declared.incident_id,
        1,
        &step(IncidentCommand::Resolve, "engine back, orders flowing"),
    )
    .await
    .unwrap();
    sqlx::query("update ops.operational_incident set next_update_due_at = now() - interval '5 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(!detail(&pool, declared.incident_id).await.update_overdue);
    assert_eq!(resolved.to, IncidentStatus::Resolved);

    // The draft proposes the triage's facts and the cadence.
    let draft = draft_status_update(&pool, &comms(), declared.incident_id, Audience::Internal).await.unwrap();
    assert_eq!(
        (draft.status.as_str(), draft.affected_tenants.as_str(), draft.owner.as_str()),
        ("RESOLVED", "Acme Corporation", "cora.comms")
    );
}
