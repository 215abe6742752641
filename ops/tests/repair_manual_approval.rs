//! The approve-quote-manually repair against PostgreSQL: the evidence recorded, the request approved through
//! the approval machine by the named approver, the quote APPROVE_MANUALLY — two people, bound to the
//! evidence they saw; every refusal says why, and nothing is written by one.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::repairs::{answer, approve, form, incident, pending_approval, refused, request, request_approve_execute, services};
use ops::repair::*;
use ops::testing::demo_user;
use platform::command::apply_quote_command;
use platform::ids::{ApprovalRequestId, QuoteId};
use platform::quote::QuoteCommand;
use platform::tenants::ACME;
use platform::testing::{ctx, ACTOR};
use sqlx::PgPool;

/// A quote of acme waiting for approval (its total is above the policy's threshold), and its request.
async fn pending_quote(pool: &PgPool, number: &str) -> (QuoteId, ApprovalRequestId) {
    let pending = pending_approval(pool, number).await;
    // Evidence is dated to the second: let the request be a second old.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    pending
}

fn at(offset: TimeDelta) -> String {
    (Utc::now() + offset).format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn evidence(approved_by: &str, approved_at: &str) -> [(&'static str, String); 4] {
    [
        ("approved_by", approved_by.to_string()),
        ("approval_channel", "Slack #acme-deals".to_string()),
        ("approved_at", approved_at.to_string()),
        ("evidence_ref", "https://acme.slack.example/archives/C01/p1732800000".to_string()),
    ]
}

fn manual(quote: QuoteId, incident: ops::ids::IncidentId, key: &str, evidence: &[(&'static str, String)]) -> RepairForRequest {
    let params: Vec<(&str, &str)> = evidence.iter().map(|(n, v)| (*n, v.as_str())).collect();
    request("approve-quote-manually", quote, incident, key, &params)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_approval_given_outside_is_recorded_with_its_evidence_and_goes_through_the_approval_machine(pool: PgPool) {
    let (quote, approval) = pending_quote(&pool, "Q-M1").await;
    let incident = incident(&pool).await;
    let input = manual(quote, incident, "manual-Q-M1", &evidence("mia.manager", &at(TimeDelta::zero())));

    let done = request_approve_execute(&pool, &services(), &input).await;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert_eq!(done.proposed_change["evidence"]["approved_by"], "mia.manager");
    assert_eq!(done.proposed_change["parameters"]["approval_channel"], "Slack #acme-deals", "the approval bound to it");
    let checks = &done.safety_checks;
    assert_eq!(answer(checks, "Does the named approver belong").verdict, Verdict::Warn, "said, not hidden");
    assert!(checks.iter().all(|c| c.verdict != Verdict::Fail));
    let recheck = done.recheck.expect("re-checked");
    assert!(recheck.coherent, "{recheck:?}");

    let (status, decided_by): (String, String) =
        sqlx::query_as("select status, decided_by from cpq.approval_request where approval_request_id = $1")
            .bind(approval)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), decided_by.as_str()), ("APPROVED", "mia.manager"));
    let (quote_status, command, actor): (String, String, String) = sqlx::query_as(
        "select q.status, t.command, t.actor from cpq.quote q join cpq.quote_transition t on t.quote_id = q.quote_id
         where q.quote_id = $1 order by t.occurred_at desc limit 1",
    )
    .bind(quote)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((quote_status.as_str(), command.as_str()), ("APPROVED", "APPROVE_MANUALLY"));
    assert!(actor.contains("oscar.operator") || actor.contains("Oscar"), "the transition names who recorded it: {actor}");
    let manual: bool = sqlx::query_scalar(
        "select (detail->>'manual')::boolean from cpq.approval_transition where approval_request_id = $1 and command = 'APPROVE'",
    )
    .bind(approval)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(manual);
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from messaging.outbox_event where aggregate_id in ($1, $2) order by created_at, aggregate_version",
    )
    .bind(quote.as_uuid())
    .bind(approval.as_uuid())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(events.ends_with(&["ApprovalDecided".to_string(), "QuoteStatusChanged".to_string()]), "{events:?}");

    // The evidence is evidence: nobody edits it afterwards.
    let refused = sqlx::query("update cpq.manual_approval_evidence set approved_by = 'someone.else' where approval_request_id = $1")
        .bind(approval)
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn incomplete_misdated_or_self_given_evidence_and_a_quote_not_waiting_are_refused(pool: PgPool) {
    let (quote, _) = pending_quote(&pool, "Q-M2").await;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let services = services();

    // The form asks for all of the evidence.
    let form = form("approve-quote-manually", quote, incident, "manual-Q-M2-form", &[("approved_by", "mia.manager")]);
    let errors = RepairForRequest::parse(&form, true).unwrap_err();
    assert_eq!(errors.get("approval_channel"), Some("Give where it was approved (channel)"));
    assert!(errors.contains("approved_at") && errors.contains("evidence_ref"));
    // A preview without it says what is missing.
    let target = Target { tenant: ACME, entity_id: quote.as_uuid() };
    let dry = preview(&pool, &services, &oscar, RepairType::ApproveQuoteManually, target).await.unwrap();
    assert!(answer(&dry.checks, "Is the external evidence complete?").detail.starts_with("missing: Who approved"));

    for (key, evidence, why) in [
        ("manual-Q-M2-future", evidence("mia.manager", &at(TimeDelta::hours(2))), "is in the future"),
        ("manual-Q-M2-early", evidence("mia.manager", &at(-TimeDelta::days(1))), "before the request was opened"),
        ("manual-Q-M2-author", evidence(ACTOR, &at(TimeDelta::zero())), "approved by test:platform, quote written by test:platform"),
    ] {
        let missing = refused(&pool, &services, &oscar, &manual(quote, incident, key, &evidence)).await;
        assert!(missing.iter().any(|m| m.contains(why)), "{key}: {missing:?}");
    }

    // The quote revised meanwhile: no longer waiting, and its request is for the old version.
    let mut tx = pool.begin().await.unwrap();
    apply_quote_command(&mut tx, ACME, quote, None, QuoteCommand::Revise, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    let missing = refused(&pool, &services, &oscar, &manual(quote, incident, "manual-Q-M2-draft", &evidence("mia.manager", &at(TimeDelta::zero())))).await;
    assert!(missing.iter().any(|m| m.contains("it is DRAFT")), "{missing:?}");
    assert!(missing.iter().any(|m| m.contains("cancel the stale approval and request a new one")), "{missing:?}");
    let written: i64 = sqlx::query_scalar("select count(*) from ops.repair_command_log").fetch_one(&pool).await.unwrap();
    assert_eq!(written, 0, "a refused request writes no repair");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_approval_binds_to_the_evidence_and_the_quote_version_it_saw(pool: PgPool) {
    let (quote, approval) = pending_quote(&pool, "Q-M3").await;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let services = services();
    let given = evidence("mia.manager", &at(TimeDelta::zero()));
    let repair = request_repair(&pool, &services, &oscar, &manual(quote, incident, "manual-Q-M3", &given)).await.unwrap().repair;

    // The same key with other evidence is another request: refused.
    let other = evidence("max.manager", &at(TimeDelta::zero()));
    let err = request_repair(&pool, &services, &oscar, &manual(quote, incident, "manual-Q-M3", &other)).await.unwrap_err();
    assert!(err.to_string().contains("already used for another request"), "{err}");

    decide_repair(&pool, &services, &demo_user("ada.approver"), repair.repair_id, &approve(&repair.proposed_change_hash)).await.unwrap();
    // Someone revises the quote after the approval: the approval is void, nothing is approved.
    let mut tx = pool.begin().await.unwrap();
    apply_quote_command(&mut tx, ACME, quote, None, QuoteCommand::Revise, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    let failed = execute_repair(&pool, &services, &oscar, repair.repair_id, None).await.unwrap().repair;
    assert_eq!(failed.status, RepairStatus::Failed);
    assert!(failed.failure_reason.unwrap().contains("moved on since the dry-run"));
    let evidence_rows: i64 = sqlx::query_scalar("select count(*) from cpq.manual_approval_evidence where approval_request_id = $1")
        .bind(approval)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(evidence_rows, 0);
}
