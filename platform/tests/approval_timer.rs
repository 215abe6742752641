//! Approval requests and the escalation timer against a real PostgreSQL: an overdue request is escalated
//! through the approval machine with history and an event, a request not yet due is left alone, a second
//! run at the same instant changes nothing, and an approval for a superseded quote version is refused.

use chrono::{Duration, Utc};
use platform::approval_timer::{
    approve, escalate_overdue, request_approval, run_escalation_timer, ApprovalPolicy, ApprovalRequested,
};
use platform::command::{apply_quote_command, CommandContext};
use platform::quote::QuoteCommand;
use platform::tenants::ACME;
use platform::testing::{approval_policy, ctx, priced_quote, wait_until};
use platform::Error;
use sqlx::PgPool;

async fn requested(pool: &PgPool, policy: &ApprovalPolicy, number: &str) -> ApprovalRequested {
    let quote = priced_quote(pool, ACME, number).await;
    let mut tx = pool.begin().await.unwrap();
    let r = request_approval(&mut tx, ACME, quote, policy, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    r
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn requesting_approval_opens_a_pending_request_due_after_the_sla(pool: PgPool) {
    let policy = approval_policy(&pool, ACME, 100_000).await;
    assert!(policy.requires_approval(150_000, 2_500));
    let r = requested(&pool, &policy, "Q-8001").await;
    assert_eq!(r.assignee, "acme-approvers");
    let (status, quote_status, transitions, events): (String, String, i64, i64) = sqlx::query_as(
        "select r.status, q.status,
                (select count(*) from cpq.approval_transition t where t.approval_request_id = r.approval_request_id),
                (select count(*) from messaging.outbox_event e where e.aggregate_id = r.approval_request_id and e.event_type = 'ApprovalRequested')
         from cpq.approval_request r join cpq.quote q using (quote_id) where r.approval_request_id = $1",
    )
    .bind(r.approval_request_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), quote_status.as_str(), transitions, events), ("PENDING", "PENDING_APPROVAL", 1, 1));
    let minutes = (r.due_at - Utc::now()).num_minutes();
    assert!((58..=60).contains(&minutes), "due in {minutes} minutes");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn overdue_requests_are_escalated_with_history_and_the_rest_are_untouched(pool: PgPool) {
    let policy = approval_policy(&pool, ACME, 100_000).await;
    let overdue = requested(&pool, &policy, "Q-8002").await;
    let fresh = requested(&pool, &policy, "Q-8003").await;
    sqlx::query("update cpq.approval_request set due_at = now() - interval '5 minutes' where approval_request_id = $1")
        .bind(overdue.approval_request_id)
        .execute(&pool)
        .await
        .unwrap();

    let now = Utc::now();
    let escalated = escalate_overdue(&pool, now, "approval-escalation-timer").await.unwrap();
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0].approval_request_id, overdue.approval_request_id);
    assert_eq!(escalated[0].escalation_level, 1);
    assert_eq!(escalated[0].due_at, now + Duration::minutes(60));

    let (status, level, version): (String, i32, i64) =
        sqlx::query_as("select status, escalation_level, version from cpq.approval_request where approval_request_id = $1")
            .bind(overdue.approval_request_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), level, version), ("ESCALATED", 1, 2));
    let (command, from, actor, detail_level): (String, String, String, i64) = sqlx::query_as(
        "select command, from_status, actor, (detail->>'escalation_level')::bigint from cpq.approval_transition
         where approval_request_id = $1 and to_status = 'ESCALATED'",
    )
    .bind(overdue.approval_request_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((command.as_str(), from.as_str(), actor.as_str(), detail_level), ("ESCALATE", "PENDING", "approval-escalation-timer", 1));
    let events: i64 = sqlx::query_scalar("select count(*) from messaging.outbox_event where aggregate_id = $1 and event_type = 'ApprovalEscalated'")
        .bind(overdue.approval_request_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 1);

    let (fresh_status, fresh_version): (String, i64) =
        sqlx::query_as("select status, version from cpq.approval_request where approval_request_id = $1")
            .bind(fresh.approval_request_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((fresh_status.as_str(), fresh_version), ("PENDING", 1));

    // Idempotent per run: the same instant again escalates nothing.
    assert!(escalate_overdue(&pool, now, "approval-escalation-timer").await.unwrap().is_empty());
    // One SLA later it escalates again (both are then due).
    let later = escalate_overdue(&pool, now + Duration::minutes(61), "approval-escalation-timer").await.unwrap();
    assert_eq!(later.len(), 2);
    assert!(later.iter().any(|e| e.approval_request_id == overdue.approval_request_id && e.escalation_level == 2));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn approving_approves_the_request_and_the_quote(pool: PgPool) {
    let policy = approval_policy(&pool, ACME, 100_000).await;
    let r = requested(&pool, &policy, "Q-8004").await;
    let mut tx = pool.begin().await.unwrap();
    let change = approve(&mut tx, r.approval_request_id, &CommandContext::new("ada.approver"), Some("fine")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(change.to.as_str(), "APPROVED");
    let (status, decided_by): (String, String) = sqlx::query_as(
        "select q.status, r.decided_by from cpq.approval_request r join cpq.quote q using (quote_id) where r.approval_request_id = $1",
    )
    .bind(r.approval_request_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), decided_by.as_str()), ("APPROVED", "ada.approver"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_approval_for_a_superseded_quote_version_is_refused_as_stale(pool: PgPool) {
    let policy = approval_policy(&pool, ACME, 100_000).await;
    let r = requested(&pool, &policy, "Q-8005").await;
    let mut tx = pool.begin().await.unwrap();
    apply_quote_command(&mut tx, ACME, r.quote.quote_id, None, QuoteCommand::Revise, &ctx()).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let err = approve(&mut tx, r.approval_request_id, &CommandContext::new("ada.approver"), None).await.unwrap_err();
    assert!(matches!(&err, Error::Refused { reason } if reason.contains("stale approval")), "{err}");
    drop(tx);
    let status: String = sqlx::query_scalar("select status from cpq.approval_request where approval_request_id = $1")
        .bind(r.approval_request_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "PENDING");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_timer_worker_escalates_an_overdue_request_and_stops_when_told(pool: PgPool) {
    let policy = approval_policy(&pool, ACME, 100_000).await;
    let r = requested(&pool, &policy, "Q-8006").await;
    sqlx::query("update cpq.approval_request set due_at = now() - interval '1 minute' where approval_request_id = $1")
        .bind(r.approval_request_id)
        .execute(&pool)
        .await
        .unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let worker = {
        let pool = pool.clone();
        tokio::spawn(async move { run_escalation_timer(&pool, std::time::Duration::from_millis(50), "approval-escalation-timer", stop).await })
    };
    wait_until("the request is escalated", std::time::Duration::from_secs(10), || async {
        let status: String = sqlx::query_scalar("select status from cpq.approval_request where approval_request_id = $1")
            .bind(r.approval_request_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        status == "ESCALATED"
    })
    .await;
    stop_tx.send(true).unwrap();
    let escalated = tokio::time::timeout(std::time::Duration::from_secs(5), worker).await.unwrap().unwrap();
    assert_eq!(escalated, 1);
}
