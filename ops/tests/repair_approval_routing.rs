//! The escalate-approval and reassign-approver repairs against PostgreSQL: an overdue request the timer did
//! not escalate is escalated through the approval machine; a request nobody has (or whose approver is
//! away) goes to a named approver. Refusals: not overdue, bound to an old version of the quote, decided
//! already, the same approver, the quote's author.

mod common;

use common::repairs::{answer, form, incident, pending_approval, refused, request, services};
use ops::repair::*;
use ops::testing::demo_user;
use platform::approval_timer::{approve, reassign};
use platform::command::apply_quote_command;
use platform::ids::ApprovalRequestId;
use platform::quote::QuoteCommand;
use platform::tenants::ACME;
use platform::testing::{ctx, ACTOR};
use sqlx::PgPool;

/// The escalation timer did not run: the request is half an hour past its due time.
async fn overdue(pool: &PgPool, request: ApprovalRequestId) {
    sqlx::query("update cpq.approval_request set due_at = now() - interval '30 minutes' where approval_request_id = $1")
        .bind(request)
        .execute(pool)
        .await
        .unwrap();
}

async fn request_row(pool: &PgPool, request: ApprovalRequestId) -> (String, i32, Option<String>, bool) {
    sqlx::query_as(
        "select status, escalation_level, assignee, due_at > now() from cpq.approval_request where approval_request_id = $1",
    )
    .bind(request)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_overdue_approval_the_timer_missed_is_escalated_through_the_approval_machine(pool: PgPool) {
    let (_, approval) = pending_approval(&pool, "Q-E1").await;
    overdue(&pool, approval).await;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let repair = request_repair(&pool, &services(), &oscar, &request("escalate-approval", approval, incident, "esc-Q-E1", &[]))
        .await
        .unwrap()
        .repair;
    assert_eq!(repair.risk, Risk::Low);
    assert!(answer(&repair.safety_checks, "Is it past its due time?").detail.starts_with("overdue by 30 min"));
    assert_eq!(repair.proposed_change["escalation_level"], 1);
    assert_eq!(repair.proposed_change["assignee"], "acme-approvers");

    let done = execute_repair(&pool, &services(), &oscar, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert!(done.recheck.as_ref().unwrap().coherent, "{:?}", done.recheck);
    assert_eq!(request_row(&pool, approval).await, ("ESCALATED".into(), 1, Some("acme-approvers".into()), true));
    let (command, actor): (String, String) = sqlx::query_as(
        "select command, actor from cpq.approval_transition where approval_request_id = $1 order by occurred_at desc limit 1",
    )
    .bind(approval)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(command, "ESCALATE");
    assert!(actor.contains("oscar") || actor.contains("Oscar"), "{actor}");
    let escalated: i64 = sqlx::query_scalar(
        "select count(*) from messaging.outbox_event where aggregate_id = $1 and event_type = 'ApprovalEscalated'",
    )
    .bind(approval.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(escalated, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_approval_not_yet_due_stale_or_decided_is_not_escalated(pool: PgPool) {
    let (_, due_later) = pending_approval(&pool, "Q-E2").await;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let services = services();
    let missing = refused(&pool, &services, &oscar, &request("escalate-approval", due_later, incident, "esc-Q-E2", &[])).await;
    assert!(missing.iter().any(|m| m.contains("it is due in") && m.contains("reassign it")), "{missing:?}");

    let (stale_quote, stale) = pending_approval(&pool, "Q-E3").await;
    overdue(&pool, stale).await;
    let mut tx = pool.begin().await.unwrap();
    apply_quote_command(&mut tx, ACME, stale_quote, None, QuoteCommand::Revise, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    let missing = refused(&pool, &services, &oscar, &request("escalate-approval", stale, incident, "esc-Q-E3", &[])).await;
    assert!(missing.iter().any(|m| m.contains("the request is for version 1, the quote is at version 2")), "{missing:?}");

    let (_, decided) = pending_approval(&pool, "Q-E4").await;
    overdue(&pool, decided).await;
    let mut tx = pool.begin().await.unwrap();
    approve(&mut tx, decided, &ctx(), Some("within authority")).await.unwrap();
    tx.commit().await.unwrap();
    let missing = refused(&pool, &services, &oscar, &request("escalate-approval", decided, incident, "esc-Q-E4", &[])).await;
    assert!(missing.iter().any(|m| m.starts_with("Is the approval request open? — APPROVED")), "{missing:?}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_approval_nobody_has_goes_to_a_named_approver_and_the_quotes_author_is_refused(pool: PgPool) {
    let (_, approval) = pending_approval(&pool, "Q-R1").await;
    // What the "approval without assignee" fault leaves.
    let mut tx = pool.begin().await.unwrap();
    reassign(&mut tx, approval, None, None, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let services = services();

    let form = form("reassign-approver", approval, incident, "reassign-Q-R1-form", &[]);
    assert_eq!(RepairForRequest::parse(&form, true).unwrap_err().get("assignee"), Some("Give new approver"));
    let missing = refused(&pool, &services, &oscar, &request("reassign-approver", approval, incident, "reassign-Q-R1-author", &[("assignee", ACTOR)])).await;
    assert!(missing.iter().any(|m| m.contains("quote written by test:platform")), "{missing:?}");

    let repair = request_repair(&pool, &services, &oscar, &request("reassign-approver", approval, incident, "reassign-Q-R1", &[("assignee", "ada.approver")]))
        .await
        .unwrap()
        .repair;
    assert_eq!(repair.risk, Risk::Low);
    assert!(answer(&repair.safety_checks, "Is the new approver someone else?").detail.contains("nobody (assignment missing) → ada.approver"));
    let done = execute_repair(&pool, &services, &oscar, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert!(done.recheck.as_ref().unwrap().coherent);
    assert_eq!(request_row(&pool, approval).await.2.as_deref(), Some("ada.approver"));
    let detail: serde_json::Value = sqlx::query_scalar(
        "select detail from cpq.approval_transition where approval_request_id = $1 order by occurred_at desc limit 1",
    )
    .bind(approval)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(detail, serde_json::json!({ "previous_assignee": null, "assignee": "ada.approver" }));

    let missing = refused(&pool, &services, &oscar, &request("reassign-approver", approval, incident, "reassign-Q-R1-again", &[("assignee", "ada.approver")])).await;
    assert!(missing.iter().any(|m| m.contains("ada.approver has it already")), "{missing:?}");
}
