//! Incidents against a real PostgreSQL (a fresh database per test): declaration, triage, impact, the
//! lifecycle and its close rule, reviews and action items, the timeline — and that bad input, stale forms
//! and refusals write nothing (a refusal: nothing but its audit line).

mod common;

use chrono::{Duration, Utc};
use common::*;
use ops::identity::Role;
use ops::incident::*;
use platform::machine::{transition, Named};
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_sev2_runs_from_declaration_to_close_and_its_timeline_tells_the_story(pool: PgPool) {
    let acme = world(&pool, ACME, "1").await;
    let (op, cora) = (operator(), comms());

    let declared = declare(&pool, &cora, "SEV2", &[ACME], &[acme.order]).await;
    assert_eq!(declared.version, 1);

    let mut form = detail(&pool, declared.incident_id).await.triage.to_form();
    form.business_capability = "Order capture".into();
    form.customer_symptom = "Submitted orders stay pending".into();
    form.quote_ids = acme.quote.to_string();
    form.recovery_owner = "Oscar".into();
    form.communication_owner = "Cora".into();
    let triage = save_triage(&pool, &op, declared.incident_id, 1, &TriageForSave::parse(&form).unwrap()).await.unwrap();
    assert_eq!((triage.version, triage.triage_version), (2, 1));

    let impact = Impact::parse(&ImpactForm { version: String::new(),
        revenue: "One order blocked".into(),
        blast_radius: "SINGLE_TENANT".into(),
        ..Default::default()
    })
    .unwrap();
    let saved = save_impact(&pool, &op, declared.incident_id, 2, &impact).await.unwrap();
    assert_eq!(saved.version, 3);

    let update = StatusUpdateForPost::parse(&internal_update()).unwrap();
    post_status_update(&pool, &cora, declared.incident_id, 3, &update, &Webhooks::none()).await.unwrap();

    let v = version(&pool, declared.incident_id).await;
    assert_eq!(v, 3, "a status update changes no content, so the version stays");
    let mitigated = change_status(
        &pool,
        &op,
        declared.incident_id,
        v,
        &step(IncidentCommand::Mitigate, "paused orchestration starts for acme"),
    )
    .await
    .unwrap();
    assert_eq!((mitigated.from, mitigated.to), (IncidentStatus::Open, IncidentStatus::Mitigated));
    let resolved = change_status(
        &pool,
        &op,
        declared.incident_id,
        mitigated.version,
        &step(IncidentCommand::Resolve, "engine fixed, orders resumed"),
    )
    .await
    .unwrap();

    let review = ReviewSections::parse(&full_review()).unwrap();
    let saved = save_review(&pool, &op, declared.incident_id, None, &review).await.unwrap();
    let item = ActionItemForSave::parse(&ActionItemForm { version: String::new(),
        action: "Alert when an order waits in ORCHESTRATING longer than 10 minutes".into(),
        owner: "Oscar".into(),
        due_date: (Utc::now().date_naive() + Duration::days(14)).to_string(),
        item_type: "ALERT".into(),
        category: "DETECT".into(),
    })
    .unwrap();
    add_action_item(&pool, &op, declared.incident_id, &item).await.unwrap();
    complete_review(&pool, &op, declared.incident_id, saved.version).await.unwrap();
    let closed = change_status(
        &pool,
        &op,
        declared.incident_id,
        resolved.version,
        &step(IncidentCommand::Close, "review complete, actions owned"),
    )
    .await
    .unwrap();
    assert_eq!(closed.to, IncidentStatus::Closed);

    let d = detail(&pool, declared.incident_id).await;
    assert!(d.mitigated_at.is_some() && d.resolved_at.is_some() && d.closed_at.is_some());
    assert!(d.mitigated_at <= d.resolved_at && d.resolved_at <= d.closed_at);
    let story: Vec<&str> = d.timeline.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        story,
        [
            "DECLARED",
            "TRIAGE_SAVED",
            "IMPACT_ASSESSED",
            "STATUS_UPDATE_POSTED",
            "STATUS_CHANGED",
            "STATUS_CHANGED",
            "REVIEW_SAVED",
            "ACTION_ITEM_ADDED",
            "REVIEW_COMPLETED",
            "STATUS_CHANGED"
        ]
    );
    assert!(d.timeline.iter().all(|e| e.kind == EventKind::System));
    assert_eq!(d.timeline[0].entities[0].entity_id, acme.order.as_uuid(), "the declaration links its order");
    assert!(d.timeline[4].headline.contains("paused orchestration starts"), "{}", d.timeline[4].headline);
    // Every command left one SUCCEEDED audit line; nothing was refused.
    assert_eq!(audit_lines(&pool, "SUCCEEDED").await, 10);
    assert_eq!(audit_lines(&pool, "REFUSED").await, 0);
    assert!(d.next_commands.is_empty());
}

fn full_review() -> ReviewForm {
    ReviewForm {
        summary: "Orchestration stalled for acme for 50 minutes".into(),
        business_impact: "12 orders delayed, none lost".into(),
        duration: "50 minutes".into(),
        timeline: "09:40 detected, 09:45 triaged, 10:00 mitigated, 10:30 resolved".into(),
        technical_root_cause: "The engine's job executor stopped after a deployment".into(),
        process_root_cause: "No post-deploy check of the orchestration flow".into(),
        detection_gap: "Stuck orders were noticed by a customer".into(),
        prevention_gap: "Deployments do not run a synthetic order".into(),
        what_worked: "The runbook".into(),
        what_did_not_work: "Alerting".into(),
        runbook_updated: Some("on".into()),
        ..Default::default()
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_sev2_cannot_close_until_its_review_is_complete_and_every_action_item_is_owned_and_dated(pool: PgPool) {
    world(&pool, ACME, "2").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV2", &[ACME], &[]).await;
    let resolved = change_status(
        &pool,
        &op,
        declared.incident_id,
        1,
        &step(IncidentCommand::Resolve, "fixed by a config rollback"),
    )
    .await
    .unwrap();
    let close = step(IncidentCommand::Close, "all done here, closing it");

    let err = change_status(&pool, &op, declared.incident_id, resolved.version, &close).await.unwrap_err();
    let Error::Rule { missing, .. } = &err else { panic!("{err}") };
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert_eq!(missing[0], "the post-incident review has not been written");
    assert!(missing[1].starts_with("no action item improves a test, an alert, a runbook or the architecture"));

    // A draft with two items, one without owner or due date, one without due date.
    let draft = save_review(
        &pool,
        &op,
        declared.incident_id,
        None,
        &ReviewSections::parse(&ReviewForm { summary: "Config pushed with a typo".into(), ..Default::default() })
            .unwrap(),
    )
    .await
    .unwrap();
    let item = |action: &str, owner: &str| ActionItemForm { version: String::new(),
        action: action.into(),
        owner: owner.into(),
        item_type: "TEST".into(),
        category: "PREVENT".into(),
        ..Default::default()
    };
    let first = add_action_item(
        &pool,
        &op,
        declared.incident_id,
        &ActionItemForSave::parse(&item("Validate config in CI before deploy", "")).unwrap(),
    )
    .await
    .unwrap();
    add_action_item(
        &pool,
        &op,
        declared.incident_id,
        &ActionItemForSave::parse(&item("Add a canary for config pushes", "Olga")).unwrap(),
    )
    .await
    .unwrap();

    let err = complete_review(&pool, &op, declared.incident_id, draft.version).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused: the post-incident review needs these sections written: customer/business impact; duration; timeline; \
         technical root cause; process root cause; detection gap; prevention gap"
    );

    let err = change_status(&pool, &op, declared.incident_id, resolved.version, &close).await.unwrap_err();
    let Error::Rule { missing, .. } = &err else { panic!("{err}") };
    assert_eq!(
        missing,
        &[
            "the post-incident review is not complete",
            "action item \"Validate config in CI before deploy\" has no owner and no due date",
            "action item \"Add a canary for config pushes\" has no due date",
        ]
    );

    let saved = save_review(
        &pool,
        &op,
        declared.incident_id,
        Some(draft.version),
        &ReviewSections::parse(&full_review()).unwrap(),
    )
    .await
    .unwrap();
    complete_review(&pool, &op, declared.incident_id, saved.version).await.unwrap();
    let due = (Utc::now().date_naive() + Duration::days(7)).to_string();
    let owned = ActionItemForm { version: String::new(),
        owner: "Oscar".into(),
        due_date: due.clone(),
        ..item("Validate config in CI before deploy", "")
    };
    update_action_item(&pool, &op, first.action_item_id, first.version, &ActionItemForSave::parse(&owned).unwrap())
        .await
        .unwrap();

    let err = change_status(&pool, &op, declared.incident_id, resolved.version, &close).await.unwrap_err();
    assert!(
        matches!(&err, Error::Rule { missing, .. } if missing == &["action item \"Add a canary for config pushes\" has no due date"]),
        "{err}"
    );
    let items = detail(&pool, declared.incident_id).await.action_items;
    let canary = items.iter().find(|i| i.owner.as_deref() == Some("Olga")).unwrap();
    let dated = ActionItemForm { version: String::new(), due_date: due, ..item("Add a canary for config pushes", "Olga") };
    update_action_item(&pool, &op, canary.action_item_id, canary.version, &ActionItemForSave::parse(&dated).unwrap())
        .await
        .unwrap();

    change_status(&pool, &op, declared.incident_id, resolved.version, &close).await.unwrap();
    // The refusals are on record, each with its reason.
    let reasons: Vec<String> =
        sqlx::query_scalar("select reason from ops.audit_log where outcome = 'REFUSED' order by audit_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(reasons.len(), 4);
    assert!(
        reasons[0].starts_with("refused: the incident cannot close yet: the post-incident review has not been written"),
        "{}",
        reasons[0]
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_sev3_closes_without_a_review(pool: PgPool) {
    world(&pool, ACME, "3").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV3", &[ACME], &[]).await;
    let resolved = change_status(
        &pool,
        &op,
        declared.incident_id,
        1,
        &step(IncidentCommand::Resolve, "notification queue drained"),
    )
    .await
    .unwrap();
    let closed = change_status(
        &pool,
        &op,
        declared.incident_id,
        resolved.version,
        &step(IncidentCommand::Close, "nothing more to do"),
    )
    .await
    .unwrap();
    assert_eq!(closed.to, IncidentStatus::Closed);
}

/// Drives a fresh SEV3 incident into `status`; returns it and its version.
async fn incident_in(pool: &PgPool, status: IncidentStatus) -> (IncidentId, i64) {
    let op = operator();
    let declared = declare(pool, &op, "SEV3", &[ACME], &[]).await;
    let path: &[IncidentCommand] = match status {
        IncidentStatus::Open => &[],
        IncidentStatus::Mitigated => &[IncidentCommand::Mitigate],
        IncidentStatus::Resolved => &[IncidentCommand::Resolve],
        IncidentStatus::Closed => &[IncidentCommand::Resolve, IncidentCommand::Close],
    };
    let mut v = declared.version;
    for command in path {
        v = change_status(pool, &op, declared.incident_id, v, &step(*command, "getting into position"))
            .await
            .unwrap()
            .version;
    }
    (declared.incident_id, v)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_lifecycle_step_is_allowed_or_refused_as_the_table_says_and_refusals_are_audited(pool: PgPool) {
    world(&pool, ACME, "4").await;
    let op = operator();
    for &from in <IncidentStatus as Named>::ALL {
        for &command in <IncidentCommand as Named>::ALL {
            let (id, v) = incident_in(&pool, from).await;
            let refused_before = audit_lines(&pool, "REFUSED").await;
            let got = change_status(&pool, &op, id, v, &step(command, "table-driven lifecycle check")).await;
            match transition::<Lifecycle>(from, command) {
                Ok(to) => assert_eq!(got.unwrap().to, to, "{from} --{command}->"),
                Err(refusal) => {
                    let err = got.unwrap_err();
                    assert_eq!(err.to_string(), format!("refused: {refusal}"), "{from} --{command}->");
                    assert_eq!(audit_lines(&pool, "REFUSED").await, refused_before + 1);
                    assert_eq!(version(&pool, id).await, v, "a refused step changes nothing");
                }
            }
        }
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn reopening_brings_updates_due_again_and_clears_the_resolution(pool: PgPool) {
    world(&pool, ACME, "5").await;
    let (id, v) = incident_in(&pool, IncidentStatus::Resolved).await;
    let reopened =
        change_status(&pool, &operator(), id, v, &step(IncidentCommand::Reopen, "the failure came back at 11:02"))
            .await
            .unwrap();
    assert_eq!(reopened.to, IncidentStatus::Open);
    let d = detail(&pool, id).await;
    assert_eq!((d.resolved_at, d.status), (None, IncidentStatus::Open));
    assert!(d.next_update_due_at.unwrap() > Utc::now());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_stale_form_is_a_conflict_and_writes_nothing(pool: PgPool) {
    world(&pool, ACME, "6").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV3", &[ACME], &[]).await;
    let rendered = detail(&pool, declared.incident_id).await;

    // Someone saves first…
    let mut first = rendered.triage.to_form();
    first.current_hypothesis = "Approval emails bounce".into();
    save_triage(&pool, &op, declared.incident_id, rendered.version, &TriageForSave::parse(&first).unwrap())
        .await
        .unwrap();

    // …then a second person saves the form rendered before that.
    let before = footprint(&pool).await;
    let audit_before = count(&pool, "select count(*) from ops.audit_log").await;
    let mut second = rendered.triage.to_form();
    second.current_hypothesis = "The mail relay is down".into();
    let err = save_triage(&pool, &op, declared.incident_id, rendered.version, &TriageForSave::parse(&second).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Stale { entity: "incident", expected: 1, found: Some(2), .. }), "{err}");
    assert!(err.to_string().starts_with("someone else saved this incident meanwhile"));

    for result in [
        change_status(&pool, &op, declared.incident_id, 1, &step(IncidentCommand::Mitigate, "paused the mail sender"))
            .await
            .map(|_| ()),
        change_severity(
            &pool,
            &op,
            declared.incident_id,
            1,
            &SeverityChange { severity: Severity::Sev2, reason: reason("more tenants") },
        )
        .await
        .map(|_| ()),
        save_impact(&pool, &op, declared.incident_id, 1, &Impact::default()).await.map(|_| ()),
        post_status_update(
            &pool,
            &comms(),
            declared.incident_id,
            1,
            &StatusUpdateForPost::parse(&internal_update()).unwrap(),
            &Webhooks::none(),
        )
        .await
        .map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::Stale { .. })), "{result:?}");
    }
    assert_eq!(footprint(&pool).await, before);
    assert_eq!(count(&pool, "select count(*) from ops.audit_log").await, audit_before, "a conflict is not a refusal");
    let kept: Option<String> =
        sqlx::query_scalar("select current_hypothesis from ops.operational_incident").fetch_one(&pool).await.unwrap();
    assert_eq!(kept.as_deref(), Some("Approval emails bounce"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn bad_input_is_answered_at_each_field_and_nothing_is_written(pool: PgPool) {
    let acme = world(&pool, ACME, "7").await;
    let globex = world(&pool, GLOBEX, "8").await;
    let before = footprint(&pool).await;

    let errors = IncidentForDeclare::parse(&DeclareForm {
        severity: "SEV5".into(),
        detected_by: "".into(),
        detected_at: "2999-01-01T00:00".into(),
        summary: "   ".into(),
        tenants: vec!["acme".into()],
        order_ids: "SO-1, 12".into(),
        quote_ids: String::new(),
    })
    .unwrap_err();
    assert_eq!(errors.get("severity"), Some("Choose a severity: one of SEV1, SEV2, SEV3, SEV4"));
    assert_eq!(errors.get("detected_by").map(|m| m.starts_with("Choose how it was detected")), Some(true));
    assert_eq!(errors.get("detected_at"), Some("This time is in the future"));
    assert_eq!(errors.get("summary"), Some("Say in one line what is broken"));
    assert_eq!(errors.get("tenants"), Some("\"acme\" is not a tenant id"));
    assert_eq!(errors.get("order_ids"), Some("Not order ids: \"SO-1\", \"12\""));

    // Well-formed, but the database says no: an order of another tenant, an order that does not exist.
    let mut form = declare_form("SEV2", &[ACME], &[acme.order, globex.order]);
    let input = IncidentForDeclare::parse(&form).unwrap();
    let err = declare_incident(&pool, &operator(), &input).await.unwrap_err();
    let errors = err.field_errors().expect("field errors");
    assert_eq!(
        errors.get("order_ids").unwrap(),
        format!("Not in the affected tenants: {} (tenant globex); add the tenant or remove the order", globex.order)
    );
    form.order_ids = uuid::Uuid::now_v7().to_string();
    form.quote_ids = acme.order.to_string();
    let err = declare_incident(&pool, &operator(), &IncidentForDeclare::parse(&form).unwrap()).await.unwrap_err();
    let errors = err.field_errors().expect("field errors");
    assert!(errors.get("order_ids").unwrap().starts_with("No order with id"));
    assert!(errors.get("quote_ids").unwrap().starts_with("No quote with id"), "an order id is not a quote id");

    assert_eq!(footprint(&pool).await, before);
    assert_eq!(count(&pool, "select count(*) from ops.audit_log").await, 0);

    // Triage: a last-known-good time after the first-known-bad time.
    let declared = declare(&pool, &operator(), "SEV3", &[ACME], &[]).await;
    let mut triage = detail(&pool, declared.incident_id).await.triage.to_form();
    triage.first_known_bad_at = "2026-01-01T10:00".into();
    triage.last_known_good_at = "2026-01-01T11:00".into();
    triage.business_capability = "x".repeat(201);
    let errors = TriageForSave::parse(&triage).unwrap_err();
    assert_eq!(
        errors.get("last_known_good_at"),
        Some("The last known good time must not be after the first known bad time")
    );
    assert_eq!(errors.get("business_capability"), Some("At most 200 characters (this is 201)"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn each_triage_save_is_a_versioned_event_with_the_full_snapshot_and_what_changed(pool: PgPool) {
    let acme = world(&pool, ACME, "9").await;
    let globex = world(&pool, GLOBEX, "10").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV3", &[ACME], &[acme.order]).await;

    let mut form = detail(&pool, declared.incident_id).await.triage.to_form();
    // Every field of the lesson's template.
    form.detected_by = "USER_REPORT".into();
    form.severity = "SEV2".into();
    form.tenants.push(GLOBEX.to_string());
    form.order_ids = format!("{}\n{}", acme.order, globex.order);
    form.quote_ids = acme.quote.to_string();
    form.first_known_bad_at = (Utc::now() - Duration::hours(2)).format("%Y-%m-%dT%H:%M").to_string();
    form.last_known_good_at = (Utc::now() - Duration::hours(3)).format("%Y-%m-%dT%H:%M").to_string();
    form.business_capability = "Order capture".into();
    form.customer_symptom = "Orders stay pending".into();
    form.technical_boundary = "Between the order service and the engine".into();
    form.data_integrity_risk = "Duplicate orders if retried blindly".into();
    form.side_effects_executed = "Fulfillment requested for 2 lines".into();
    form.immediate_mitigation = "Paused orchestration starts".into();
    form.current_hypothesis = "Engine job executor stalled".into();
    form.recovery_owner = "Oscar".into();
    form.communication_owner = "Cora".into();
    let saved = save_triage(&pool, &op, declared.incident_id, 1, &TriageForSave::parse(&form).unwrap()).await.unwrap();
    assert_eq!(saved.triage_version, 1);
    assert_eq!(saved.changed.len(), 16, "{:?}", saved.changed);

    let d = detail(&pool, declared.incident_id).await;
    assert_eq!(d.severity, Severity::Sev2);
    assert_eq!(d.tenants.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(), ["acme", "globex"]);
    assert_eq!(d.entities.len(), 3);
    let events: Vec<(&str, &serde_json::Value)> =
        d.timeline.iter().map(|e| (e.event_type.as_str(), &e.body)).filter(|(t, _)| *t != "DECLARED").collect();
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), ["TRIAGE_SAVED", "SEVERITY_CHANGED"]);
    let body = events[0].1;
    assert_eq!(body["triage_version"], 1);
    assert_eq!(body["triage"]["technical_boundary"], "Between the order service and the engine");
    assert_eq!(body["before"]["severity"], "SEV3");
    assert!(body["changed"].as_array().unwrap().contains(&serde_json::json!("side_effects_executed")));
    assert_eq!(events[1].1["to"], "SEV2");

    // The form rendered from what was saved, sent back unchanged, changes nothing and writes nothing.
    let before = footprint(&pool).await;
    let again = save_triage(
        &pool,
        &op,
        declared.incident_id,
        saved.version,
        &TriageForSave::parse(&d.triage.to_form()).unwrap(),
    )
    .await
    .unwrap();
    assert!(again.changed.is_empty());
    assert_eq!((again.version, again.triage_version), (saved.version, 1));
    assert_eq!(footprint(&pool).await, before);

    // Dropping globex drops its order too, and the list's copy of detected_at follows a corrected time.
    form.tenants = vec![ACME.to_string()];
    form.order_ids = acme.order.to_string();
    form.detected_at = (Utc::now() - Duration::minutes(90)).format("%Y-%m-%dT%H:%M").to_string();
    let third = save_triage(&pool, &op, declared.incident_id, saved.version, &TriageForSave::parse(&form).unwrap())
        .await
        .unwrap();
    assert_eq!(third.triage_version, 2);
    assert_eq!(third.changed, ["detected_at", "tenants", "order_ids"]);
    assert_eq!(count(&pool, "select count(*) from ops.incident_entity").await, 2);
    assert_eq!(
        count(&pool, "select count(*) from ops.incident_tenant it join ops.operational_incident i using (incident_id) where it.detected_at = i.detected_at").await,
        1
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn impact_figures_are_proposed_from_the_incidents_orders_quotes_and_tenants(pool: PgPool) {
    let acme = world(&pool, ACME, "11").await;
    let globex = world(&pool, GLOBEX, "12").await;
    let op = operator();
    let mut form = declare_form("SEV1", &[ACME, GLOBEX], &[acme.order, globex.order]);
    form.quote_ids = acme.quote.to_string();
    let declared = declare_incident(&pool, &op, &IncidentForDeclare::parse(&form).unwrap()).await.unwrap();

    let proposal = propose_impact(&pool, &viewer(), declared.incident_id).await.unwrap();
    assert_eq!(proposal.orders.count, 2);
    assert_eq!(proposal.orders.value, [Money { currency: "EUR".into(), minor: acme.order_total + globex.order_total }]);
    assert_eq!(proposal.quotes.count, 1);
    assert_eq!(proposal.tenants, 2);
    assert_eq!(proposal.blast_radius, Some(BlastRadius::MultiTenant));
    assert_eq!(proposal.revenue_text, "2 orders worth EUR 500.00; 1 quote worth EUR 250.00");

    let saved = save_impact(
        &pool,
        &op,
        declared.incident_id,
        1,
        &Impact::parse(&ImpactForm { version: String::new(),
            revenue: proposal.revenue_text.clone(),
            customer: proposal.customer_text.clone(),
            data_integrity: "No duplicates found".into(),
            legal: "Approval evidence intact".into(),
            operational: "Manual checks of 2 orders".into(),
            blast_radius: "MULTI_TENANT".into(),
            recoverability: "REPLAY".into(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(saved.changed.len(), 7);
    let d = detail(&pool, declared.incident_id).await;
    assert_eq!(d.impact.recoverability, Some(Recoverability::Replay));
    assert_eq!(d.impact_proposal, proposal);
    let bad = Impact::parse(&ImpactForm { version: String::new(), blast_radius: "GALAXY".into(), ..Default::default() }).unwrap_err();
    assert!(bad.get("blast_radius").unwrap().starts_with("Choose a blast radius: one of SINGLE_ORDER"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn severity_changes_are_events_and_bring_the_next_update_forward(pool: PgPool) {
    world(&pool, ACME, "13").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV4", &[ACME], &[]).await;
    let changed = change_severity(
        &pool,
        &op,
        declared.incident_id,
        1,
        &SeverityChange { severity: Severity::Sev1, reason: reason("every tenant is affected now") },
    )
    .await
    .unwrap();
    assert_eq!((changed.from, changed.to, changed.version), (Severity::Sev4, Severity::Sev1, 2));
    let due = changed.next_update_due_at.unwrap();
    assert!(due <= Utc::now() + Duration::minutes(30) && due > Utc::now() + Duration::minutes(29));
    let d = detail(&pool, declared.incident_id).await;
    let event = d.timeline.iter().find(|e| e.event_type == "SEVERITY_CHANGED").unwrap();
    assert_eq!(event.headline, "Severity SEV-4 → SEV-1: every tenant is affected now");
    assert_eq!(d.severity_info.response, "War room, freeze deployments, incident commander");

    let same = change_severity(
        &pool,
        &op,
        declared.incident_id,
        2,
        &SeverityChange { severity: Severity::Sev1, reason: reason("just to be sure") },
    )
    .await
    .unwrap_err();
    assert_eq!(same.field_errors().unwrap().get("severity"), Some("The incident is already SEV-1"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn people_add_notes_that_link_entities_and_the_timeline_filters_system_from_human(pool: PgPool) {
    let acme = world(&pool, ACME, "14").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV3", &[ACME], &[acme.order]).await;
    let note = NoteForAdd::parse(&NoteForm {
        text: "Customer called about this order\nthey want a call back".into(),
        entity_ids: acme.order.to_string(),
    })
    .unwrap();
    add_note(&pool, &op, declared.incident_id, &note).await.unwrap();

    let human =
        timeline(&pool, &viewer(), declared.incident_id, TimelineFilter::from_param(Some("human"))).await.unwrap();
    assert_eq!(human.len(), 1);
    assert_eq!(human[0].kind, EventKind::Human);
    assert_eq!(human[0].headline, "Customer called about this order");
    assert_eq!(
        human[0].entities,
        [EntityRef { entity_type: EntityType::Order, entity_id: acme.order.as_uuid(), tenant_id: ACME }]
    );
    assert_eq!(human[0].actor, "oscar.operator (sub-oscar.operator)");
    let system =
        timeline(&pool, &viewer(), declared.incident_id, TimelineFilter::from_param(Some("system"))).await.unwrap();
    assert_eq!(system.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), ["DECLARED"]);
    assert_eq!(timeline(&pool, &viewer(), declared.incident_id, TimelineFilter::ALL).await.unwrap().len(), 2);

    let stranger =
        NoteForAdd::parse(&NoteForm { text: "about another order".into(), entity_ids: acme.quote.to_string() })
            .unwrap();
    let err = add_note(&pool, &op, declared.incident_id, &stranger).await.unwrap_err();
    assert!(err.field_errors().unwrap().get("entity_ids").unwrap().starts_with("Not on this incident"));

    // The timeline is evidence: the database refuses to rewrite it.
    let rewrite = sqlx::query("update ops.incident_event set body = '{}'").execute(&pool).await;
    assert!(rewrite.is_err());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_closed_incident_is_read_only_but_its_action_items_stay_trackable(pool: PgPool) {
    world(&pool, ACME, "15").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV3", &[ACME], &[]).await;
    let item = add_action_item(
        &pool,
        &op,
        declared.incident_id,
        &ActionItemForSave::parse(&ActionItemForm { version: String::new(),
            action: "Add a runbook step for bounced approval emails".into(),
            owner: "Ada".into(),
            due_date: (Utc::now().date_naive() - Duration::days(3)).to_string(),
            item_type: "RUNBOOK".into(),
            category: "RECOVER".into(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let (_, v) = {
        let r = change_status(&pool, &op, declared.incident_id, 1, &step(IncidentCommand::Resolve, "mail relay back"))
            .await
            .unwrap();
        let c = change_status(
            &pool,
            &op,
            declared.incident_id,
            r.version,
            &step(IncidentCommand::Close, "done, follow-ups tracked"),
        )
        .await
        .unwrap();
        (r, c.version)
    };

    let refused_before = audit_lines(&pool, "REFUSED").await;
    let mut form = detail(&pool, declared.incident_id).await.triage.to_form();
    form.current_hypothesis = "late insight".into();
    let err =
        save_triage(&pool, &op, declared.incident_id, v, &TriageForSave::parse(&form).unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("is CLOSED: editing the triage is no longer possible"), "{err}");
    let err = add_note(
        &pool,
        &op,
        declared.incident_id,
        &NoteForAdd::parse(&NoteForm { text: "late".into(), ..Default::default() }).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Rule { .. }), "{err}");
    assert_eq!(audit_lines(&pool, "REFUSED").await, refused_before + 2);

    // It is overdue, and shows in the overdue view across incidents; a viewer of globex does not see it.
    let overdue = overdue_action_items(&pool, &viewer(), 100).await.unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!((overdue[0].days_overdue, overdue[0].item.overdue), (3, true));
    let globex_viewer = actor("gwen", &[Role::Viewer], only(&[GLOBEX]));
    assert!(overdue_action_items(&pool, &globex_viewer, 100).await.unwrap().is_empty());

    // Closed, its items keep owner and due date, and are completed.
    let unowned = ActionItemForm { version: String::new(), owner: String::new(), ..overdue[0].item.to_form() };
    let err =
        update_action_item(&pool, &op, item.action_item_id, item.version, &ActionItemForSave::parse(&unowned).unwrap())
            .await
            .unwrap_err();
    assert_eq!(
        err.field_errors().unwrap().get("owner"),
        Some("The incident is closed: its action items keep an owner")
    );
    let done =
        set_action_item_status(&pool, &op, item.action_item_id, item.version, ActionItemStatus::Done).await.unwrap();
    assert_eq!(done.status, ActionItemStatus::Done);
    assert!(overdue_action_items(&pool, &viewer(), 100).await.unwrap().is_empty());
    let d = detail(&pool, declared.incident_id).await;
    assert!(d.action_items[0].completed_at.is_some());
    assert_eq!(d.timeline.last().unwrap().headline, "Action item done: Add a runbook step for bounced approval emails");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn reopening_an_incident_makes_its_completed_review_a_draft_to_revisit_before_closing(pool: PgPool) {
    world(&pool, ACME, "16").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV2", &[ACME], &[]).await;
    let resolved = change_status(&pool, &op, declared.incident_id, 1, &step(IncidentCommand::Resolve, "engine fixed"))
        .await
        .unwrap();
    let saved = save_review(&pool, &op, declared.incident_id, None, &ReviewSections::parse(&full_review()).unwrap())
        .await
        .unwrap();
    let completed = complete_review(&pool, &op, declared.incident_id, saved.version).await.unwrap();
    assert_eq!(completed.status, ReviewStatus::Complete);

    let reopened = change_status(
        &pool,
        &op,
        declared.incident_id,
        resolved.version,
        &step(IncidentCommand::Reopen, "orders stuck again after the fix"),
    )
    .await
    .unwrap();
    assert_eq!(reopened.to, IncidentStatus::Open);

    let d = detail(&pool, declared.incident_id).await;
    let review = d.review.expect("the review is kept");
    assert_eq!(review.status, ReviewStatus::Draft, "what was signed off no longer describes how it ended");
    assert_eq!(review.version, completed.version + 1);
    assert!(review.completed_at.is_none());
    assert_eq!(d.timeline.last().unwrap().event_type, "REVIEW_REOPENED");
    assert!(d.close_blockers.contains(&"the post-incident review is not complete".to_string()), "{:?}", d.close_blockers);
    // Completing it again works once the incident is resolved again.
    let again = change_status(&pool, &op, declared.incident_id, reopened.version, &step(IncidentCommand::Resolve, "fixed for good"))
        .await
        .unwrap();
    assert_eq!(again.to, IncidentStatus::Resolved);
    complete_review(&pool, &op, declared.incident_id, review.version).await.unwrap();
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_review_form_is_proposed_from_the_incidents_record(pool: PgPool) {
    world(&pool, ACME, "17").await;
    let op = operator();
    let declared = declare(&pool, &op, "SEV2", &[ACME], &[]).await;
    change_status(&pool, &op, declared.incident_id, 1, &step(IncidentCommand::Resolve, "engine fixed"))
        .await
        .unwrap();
    let d = detail(&pool, declared.incident_id).await;
    assert!(d.review.is_none());
    let form = &d.review_form;
    assert_eq!(form.summary, "Orders for acme stuck in orchestration");
    assert!(form.timeline.starts_with("Detection: "), "{}", form.timeline);
    assert!(form.timeline.contains("Resolution: "), "{}", form.timeline);
    assert!(form.timeline.contains("Declared SEV-2 by Alert"), "{}", form.timeline);
    assert!(form.timeline.contains("OPEN → RESOLVED: engine fixed"), "{}", form.timeline);
    assert!(form.duration.contains("→ resolved"), "{}", form.duration);
    assert_eq!(form.review_version, "", "nothing saved yet");

    // The internal update draft comes from triage.
    assert_eq!(d.internal_draft.audience, "INTERNAL");
    assert_eq!(d.internal_draft.status, "RESOLVED");
    assert_eq!(d.internal_draft.affected_tenants, "Acme Corporation");
    assert_eq!(d.internal_draft.version, d.version.to_string());
}
