//! Who may run what: every console command and scoped read, for every demo user of the dev realm (their
//! roles and tenants read from the realm file), on acme's entities — written out by hand as the
//! specification. An allowed command succeeds; a refused one answers NOT_ALLOWED, writes nothing, and
//! leaves exactly one REFUSED audit line naming the action. A command added without a row here fails the
//! test that every action is covered.

mod common;

use std::collections::BTreeSet;

use common::*;
use ops::command::Action;
use ops::identity::Actor;
use ops::incident::*;
use ops::repair::*;
use ops::testing::{demo_users, AuditLine};
use ops::{ErrorKind, Result};
use platform::machine::Named;
use platform::query::OrderLookup;
use platform::tenants::ACME;
use sqlx::PgPool;

/// The demo users, in the realm's order.
const USERS: [&str; 7] =
    ["vera.viewer", "oscar.operator", "ada.approver", "cora.comms", "adam.admin", "olga.opsapprover", "gwen.globex"];

/// Whether each demo user may run each command on acme's entities. vera: viewer of acme; oscar: operator,
/// every tenant; ada: approver; cora: comms; adam: admin; olga: operator + approver of acme and globex;
/// gwen: operator of globex only.
#[rustfmt::skip]
const MATRIX: [(Action, [bool; 7]); 43] = [
    //                                 vera   oscar  ada    cora   adam   olga   gwen
    (Action::OrderRead,              [true,  true,  true,  true,  true,  true,  false]),
    (Action::TenantList,             [true,  true,  true,  true,  true,  true,  true ]),
    (Action::IncidentList,           [true,  true,  true,  true,  true,  true,  true ]),
    (Action::IncidentRead,           [true,  true,  true,  true,  true,  true,  false]),
    (Action::IncidentDeclare,        [false, true,  false, true,  true,  true,  false]),
    (Action::IncidentTriage,         [false, true,  false, false, true,  true,  false]),
    (Action::IncidentImpact,         [false, true,  false, false, true,  true,  false]),
    (Action::IncidentMitigate,       [false, true,  false, false, true,  true,  false]),
    (Action::IncidentResolve,        [false, true,  false, false, true,  true,  false]),
    (Action::IncidentClose,          [false, true,  false, false, true,  true,  false]),
    (Action::IncidentReopen,         [false, true,  false, false, true,  true,  false]),
    (Action::IncidentSeverity,       [false, true,  false, false, true,  true,  false]),
    (Action::IncidentNote,           [false, true,  false, false, true,  true,  false]),
    (Action::StatusUpdatePost,       [false, false, false, true,  false, false, false]),
    (Action::ReviewSave,             [false, true,  false, false, true,  true,  false]),
    (Action::ReviewComplete,         [false, true,  false, false, true,  true,  false]),
    (Action::ActionItemAdd,          [false, true,  false, false, true,  true,  false]),
    (Action::ActionItemEdit,         [false, true,  false, false, true,  true,  false]),
    (Action::ActionItemStatus,       [false, true,  false, false, true,  true,  false]),
    (Action::RepairRead,             [true,  true,  true,  true,  true,  true,  false]),
    (Action::RepairRequest,          [false, true,  false, false, false, true,  false]),
    (Action::RepairApprove,          [false, false, true,  false, false, true,  false]),
    (Action::RepairReject,           [false, false, true,  false, false, true,  false]),
    (Action::RepairExecute,          [false, true,  false, false, false, true,  false]),
    (Action::RepairRecheck,          [false, true,  false, false, false, true,  false]),
    (Action::RepairPolicySet,        [false, false, false, false, true,  false, false]),
    // Before the controls: the reconciliation rows capture orders, which a disabled acceptance refuses.
    (Action::ReconcileRead,          [true,  true,  true,  true,  true,  true,  false]),
    (Action::ReconcileRun,           [false, true,  false, false, true,  true,  false]),
    (Action::MismatchAcknowledge,    [false, true,  false, false, true,  true,  false]),
    (Action::MismatchFalsePositive,  [false, true,  false, false, true,  true,  false]),
    (Action::MismatchLinkIncident,   [false, true,  false, false, true,  true,  false]),
    (Action::ReconcilePolicySet,     [false, false, false, false, true,  false, false]),
    (Action::AuditVerify,            [false, false, false, false, true,  false, false]),
    (Action::ControlList,            [true,  true,  true,  true,  true,  true,  true ]),
    (Action::ControlSet,             [false, true,  false, false, true,  true,  false]),
    (Action::DiagnosticRun,          [false, true,  false, false, true,  true,  false]),
    (Action::ChecklistRecord,        [false, true,  false, false, true,  true,  false]),
    (Action::DashboardRead,          [true,  true,  true,  true,  true,  true,  false]),
    (Action::DrillRead,              [true,  true,  true,  true,  true,  true,  true ]),
    // Drills break things in the drill tenant: only operators with that tenant in scope.
    (Action::DrillStart,             [false, true,  false, false, true,  false, false]),
    (Action::DrillFaultEnd,          [false, true,  false, false, true,  false, false]),
    (Action::DrillEnd,               [false, true,  false, false, true,  false, false]),
    (Action::DiagnosticsRead,        [true,  true,  true,  true,  true,  true,  false]),
];

fn services() -> Services {
    Services::new(platform::engine::EngineClient::new(platform::testing::engine_url()))
}

/// An outbox event of a new acme order claimed an hour ago by a relay that left no heartbeat: what the
/// release-stale-claims repair is for (the engine is not needed for it).
async fn stale_claim(pool: &PgPool, _world: &World) -> uuid::Uuid {
    let number = format!("Q-M-{}", uuid::Uuid::now_v7().simple());
    let order = platform::testing::captured_order(pool, ACME, &number).await.order_id;
    sqlx::query_scalar(
        "update messaging.outbox_event set status = 'PROCESSING', claimed_by = 'relay-dead-' || gen_random_uuid(),
           claimed_at = now() - interval '1 hour'
         where outbox_event_id = (select outbox_event_id from messaging.outbox_event
                                  where aggregate_id = $1 and status = 'PENDING' order by created_at limit 1)
         returning outbox_event_id",
    )
    .bind(order.as_uuid())
    .fetch_one(pool)
    .await
    .expect("a pending event of the order to claim")
}

/// A release-stale-claims repair of acme, requested by the console's requester job and brought to `stage`.
async fn prepared_repair(pool: &PgPool, world: &World, incident: IncidentId, stage: RepairStatus) -> Repair {
    let requester = Actor::system("matrix-requester");
    let approver = Actor::system("matrix-approver");
    let event = stale_claim(pool, world).await;
    let form = RepairRequestForm {
        repair_type: "release-stale-claims".into(),
        tenant: ACME.to_string(),
        entity_id: event.to_string(),
        incident_id: incident.to_string(),
        reason: "relay died holding its claims after a crash".into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        mismatch_id: String::new(),
        ..Default::default()
    };
    let repair = request_repair(pool, &services(), &requester, &RepairForRequest::parse(&form, true).unwrap()).await.unwrap().repair;
    if stage == RepairStatus::Requested {
        return repair;
    }
    let decision = DecisionForm { decision: "APPROVE".into(), comment: String::new(), proposed_change_hash: repair.proposed_change_hash.clone() };
    let repair = decide_repair(pool, &services(), &approver, repair.repair_id, &RepairDecision::parse(&decision).unwrap()).await.unwrap();
    if stage == RepairStatus::Approved {
        return repair;
    }
    execute_repair(pool, &services(), &requester, repair.repair_id, None).await.unwrap().repair
}

/// An open reconciliation mismatch of acme: a dead relay's stale claim found by the outbox check, run by the console.
async fn acme_mismatch(pool: &PgPool, world: &World) -> uuid::Uuid {
    use ops::reconcile::{CheckName, RunOrigin, RunRequest};
    let event = stale_claim(pool, world).await;
    let request = RunRequest { tenant: Some(ACME), ..RunRequest::one(CheckName::OutboxBacklog, RunOrigin::Schedule) };
    ops::reconcile::run(pool, None, &Actor::system("matrix-reconcile"), &request).await.unwrap();
    sqlx::query_scalar(
        "select mismatch_id from ops.reconciliation_mismatch
          where observed_state->>'oldest_event_id' = $1::text and mismatch_type = 'STALE_OUTBOX_CLAIMS' and status = 'OPEN'",
    )
    .bind(event)
    .fetch_one(pool)
    .await
    .expect("the run found the dead relay's stale claim")
}

/// release-stale-claims is HIGH risk for acme, so approvals apply to it.
async fn high_risk_releases(pool: &PgPool) {
    let form = PolicyForm {
        tenant: ACME.to_string(),
        repair_type: "release-stale-claims".into(),
        min_risk: "HIGH".into(),
        reason: "two people on every release".into(),
    };
    set_policy(pool, &Actor::system("matrix"), &PolicyForSet::parse(&form).unwrap()).await.unwrap();
}

/// Ends every drill still running (as the system), so the next one may start.
async fn clear_drills(pool: &PgPool) {
    let system = Actor::system("matrix-drills");
    let end = ops::drill::DrillForEnd { runbook_accurate: true, runbook_gap: None, notes: String::new() };
    for d in ops::drill::list_drills(pool, &system, 200).await.unwrap().into_iter().filter(|d| d.is_active()) {
        ops::drill::end_drill(pool, &ops::drill::FaultKit::default(), &system, d.drill_id, &end).await.unwrap();
    }
}

/// A manual-repair drill started by the system, its fault in place.
async fn fresh_drill(pool: &PgPool) -> uuid::Uuid {
    clear_drills(pool).await;
    let form = ops::drill::DrillStartForm { drill: "manual-repair-dry-run".into() };
    let drill = ops::drill::start_drill(pool, &ops::drill::FaultKit::default(), &Actor::system("matrix-drills"), &form).await.unwrap();
    assert_eq!(drill.status, ops::drill::DrillStatus::Broken, "{drill:?}");
    drill.drill_id
}

/// An acme incident in the state `action` needs to succeed, made by the console itself.
async fn prepared(pool: &PgPool, action: Action) -> (IncidentId, Option<ActionItemSaved>) {
    let system = Actor::system("matrix");
    let severity = if action == Action::IncidentClose { "SEV3" } else { "SEV2" };
    let id = declare(pool, &system, severity, &[ACME], &[]).await.incident_id;
    let resolve = |id| {
        let system = system.clone();
        async move {
            let v = version(pool, id).await;
            change_status(pool, &system, id, v, &step(IncidentCommand::Resolve, "fixed for the matrix")).await.unwrap();
        }
    };
    let mut item = None;
    match action {
        Action::IncidentClose | Action::IncidentReopen => resolve(id).await,
        Action::ReviewComplete => {
            resolve(id).await;
            let form = ReviewForm {
                summary: "s".into(),
                business_impact: "b".into(),
                duration: "d".into(),
                timeline: "t".into(),
                technical_root_cause: "trc".into(),
                process_root_cause: "prc".into(),
                detection_gap: "dg".into(),
                prevention_gap: "pg".into(),
                ..Default::default()
            };
            save_review(pool, &system, id, None, &ReviewSections::parse(&form).unwrap()).await.unwrap();
        }
        Action::ActionItemEdit | Action::ActionItemStatus => {
            let input = ActionItemForSave::parse(&item_form()).unwrap();
            item = Some(add_action_item(pool, &system, id, &input).await.unwrap());
        }
        _ => {}
    }
    (id, item)
}

fn item_form() -> ActionItemForm {
    ActionItemForm {
        action: "Alert on orders stuck in orchestration".into(),
        owner: "oscar".into(),
        due_date: "2099-01-31".into(),
        item_type: "ALERT".into(),
        category: "DETECT".into(),
        ..Default::default()
    }
}

/// Runs `action` as `actor` on a prepared incident; Ok when it was allowed and did its work.
async fn run(pool: &PgPool, world: &World, actor: &Actor, action: Action) -> Result<()> {
    let (id, item) = prepared(pool, action).await;
    let v = version(pool, id).await;
    let lifecycle = |command, why| step(command, why);
    match action {
        Action::OrderRead => {
            let found = ops::orders::order_detail(pool, actor, ACME, &OrderLookup::Id(world.order)).await?;
            assert!(found.is_some());
            Ok(())
        }
        Action::TenantList => ops::tenants::visible(pool, actor).await.map(drop),
        Action::IncidentList => {
            list_incidents(pool, actor, &IncidentListQuery::parse(&IncidentListForm::default()).unwrap()).await.map(drop)
        }
        Action::IncidentRead => incident_detail(pool, actor, id, TimelineFilter::ALL).await.map(drop),
        Action::IncidentDeclare => {
            declare_incident(pool, actor, &IncidentForDeclare::parse(&declare_form("SEV3", &[ACME], &[])).unwrap())
                .await
                .map(drop)
        }
        Action::IncidentTriage => {
            let mut form = detail(pool, id).await.triage.to_form();
            form.current_hypothesis = format!("by {}", actor.name);
            save_triage(pool, actor, id, v, &TriageForSave::parse(&form).unwrap()).await.map(drop)
        }
        Action::IncidentImpact => {
            let impact = Impact { operational: Some(format!("by {}", actor.name)), ..Impact::default() };
            save_impact(pool, actor, id, v, &impact).await.map(drop)
        }
        Action::IncidentMitigate => {
            change_status(pool, actor, id, v, &lifecycle(IncidentCommand::Mitigate, "paused the flow")).await.map(drop)
        }
        Action::IncidentResolve => {
            change_status(pool, actor, id, v, &lifecycle(IncidentCommand::Resolve, "recovered it")).await.map(drop)
        }
        Action::IncidentClose => {
            change_status(pool, actor, id, v, &lifecycle(IncidentCommand::Close, "nothing left to do")).await.map(drop)
        }
        Action::IncidentReopen => {
            change_status(pool, actor, id, v, &lifecycle(IncidentCommand::Reopen, "it came back again")).await.map(drop)
        }
        Action::IncidentSeverity => {
            let change = SeverityChange { severity: Severity::Sev1, reason: reason("every tenant is affected now") };
            change_severity(pool, actor, id, v, &change).await.map(drop)
        }
        Action::IncidentNote => {
            let note = NoteForAdd::parse(&NoteForm { text: "a note".into(), ..Default::default() }).unwrap();
            add_note(pool, actor, id, &note).await.map(drop)
        }
        Action::StatusUpdatePost => {
            let update = StatusUpdateForPost::parse(&internal_update()).unwrap();
            post_status_update(pool, actor, id, v, &update, &Webhooks::none()).await.map(drop)
        }
        Action::ReviewSave => {
            let sections = ReviewSections { summary: Some(format!("by {}", actor.name)), ..Default::default() };
            save_review(pool, actor, id, None, &sections).await.map(drop)
        }
        Action::ReviewComplete => {
            let review = detail(pool, id).await.review.expect("prepared").version;
            complete_review(pool, actor, id, review).await.map(drop)
        }
        Action::ActionItemAdd => {
            add_action_item(pool, actor, id, &ActionItemForSave::parse(&item_form()).unwrap()).await.map(drop)
        }
        Action::ActionItemEdit => {
            let item = item.expect("prepared");
            let form = ActionItemForm { owner: "ada".into(), ..item_form() };
            update_action_item(pool, actor, item.action_item_id, item.version, &ActionItemForSave::parse(&form).unwrap())
                .await
                .map(drop)
        }
        Action::ActionItemStatus => {
            let item = item.expect("prepared");
            set_action_item_status(pool, actor, item.action_item_id, item.version, ActionItemStatus::Done).await.map(drop)
        }
        Action::RepairRead => {
            let repair = prepared_repair(pool, world, id, RepairStatus::Requested).await;
            repair_detail(pool, actor, repair.repair_id).await.map(drop)
        }
        Action::RepairRequest => {
            let event = stale_claim(pool, world).await;
            let form = RepairRequestForm {
                repair_type: "release-stale-claims".into(),
                tenant: ACME.to_string(),
                entity_id: event.to_string(),
                incident_id: id.to_string(),
                reason: "relay died holding its claims after a crash".into(),
                idempotency_key: uuid::Uuid::now_v7().to_string(),
                mismatch_id: String::new(),
                ..Default::default()
            };
            request_repair(pool, &services(), actor, &RepairForRequest::parse(&form, true).unwrap()).await.map(drop)
        }
        Action::RepairApprove | Action::RepairReject => {
            let repair = prepared_repair(pool, world, id, RepairStatus::Requested).await;
            let (decision, comment) =
                if action == Action::RepairApprove { ("APPROVE", "") } else { ("REJECT", "the relay is alive after all") };
            let form = DecisionForm { decision: decision.into(), comment: comment.into(), proposed_change_hash: repair.proposed_change_hash };
            decide_repair(pool, &services(), actor, repair.repair_id, &RepairDecision::parse(&form).unwrap()).await.map(drop)
        }
        Action::RepairExecute => {
            let repair = prepared_repair(pool, world, id, RepairStatus::Approved).await;
            execute_repair(pool, &services(), actor, repair.repair_id, None).await.map(drop)
        }
        Action::RepairRecheck => {
            let repair = prepared_repair(pool, world, id, RepairStatus::Executed).await;
            recheck_repair(pool, &services(), actor, repair.repair_id).await.map(drop)
        }
        Action::DiagnosticsRead => {
            let diagnostics = ops::diagnostics::Diagnostics::new(
                pool.clone(),
                &ops::testing::probe_targets(),
                ops::diagnostics::DiagnosticsConfig::default(),
            );
            let seen = ops::diagnostics::overview(pool, &diagnostics, actor, Some(ACME)).await?;
            assert_eq!(seen.tenant, Some(ACME));
            Ok(())
        }
        Action::RepairPolicySet => {
            let form = PolicyForm {
                tenant: ACME.to_string(),
                repair_type: "release-stale-claims".into(),
                min_risk: "HIGH".into(),
                reason: format!("set by {}", actor.name),
            };
            set_policy(pool, actor, &PolicyForSet::parse(&form).unwrap()).await.map(drop)
        }
        Action::ControlList => ops::control::switches(pool, actor, false).await.map(drop),
        Action::ControlSet => {
            let form = ops::control::ControlForm {
                switch: "quote-acceptance".into(),
                tenant: ACME.to_string(),
                state: if ops::control::switches(pool, &ops::identity::Actor::system("t"), true).await?.is_empty() { "on" } else { "off" }.into(),
                reason: format!("mitigation by {}", actor.name),
                incident_id: id.to_string(),
                ..Default::default()
            };
            ops::control::set_control(pool, actor, &ops::control::ControlForSet::parse(&form).unwrap()).await.map(drop)
        }
        Action::DiagnosticRun => {
            // A block bound to acme: acme's operators may run it (a cross-tenant one needs every tenant).
            let form = ops::runbook::DiagnosticForm {
                param_tenant_id: ACME.to_string(),
                param_order_id: world.order.to_string(),
                incident_id: id.to_string(),
                ..Default::default()
            };
            let input = ops::runbook::DiagnosticForRun::parse("engine-incident", 0, &form).unwrap();
            ops::runbook::run_diagnostic(pool, actor, &input).await.map(drop)
        }
        Action::ChecklistRecord => {
            let mut answers: std::collections::BTreeMap<String, String> = ops::checklist::Checklist::Replay
                .items()
                .iter()
                .map(|i| (i.key.to_string(), "UNKNOWN".to_string()))
                .collect();
            answers.insert("incident_id".into(), id.to_string());
            let form = ops::checklist::ChecklistForm(answers);
            let input = ops::checklist::ChecklistForRecord::parse(ops::checklist::Checklist::Replay, &form).unwrap();
            ops::checklist::record_checklist(pool, actor, &input).await.map(drop)
        }
        Action::DashboardRead => {
            let view = ops::dashboard::board(pool, &ops::dashboard::FigureCache::off(), actor, ops::dashboard::Board::Executive, Some(ACME), 1).await?;
            assert_eq!(view.tenant, Some(ACME));
            Ok(())
        }
        Action::DrillRead => ops::drill::list_drills(pool, actor, 10).await.map(drop),
        Action::DrillStart => {
            clear_drills(pool).await;
            let form = ops::drill::DrillStartForm { drill: "manual-repair-dry-run".into() };
            ops::drill::start_drill(pool, &ops::drill::FaultKit::default(), actor, &form).await.map(drop)
        }
        Action::DrillFaultEnd => {
            let drill = fresh_drill(pool).await;
            ops::drill::stop_fault(pool, &ops::drill::FaultKit::default(), actor, drill).await.map(drop)
        }
        Action::DrillEnd => {
            let drill = fresh_drill(pool).await;
            let end = ops::drill::DrillForEnd { runbook_accurate: true, runbook_gap: None, notes: String::new() };
            ops::drill::end_drill(pool, &ops::drill::FaultKit::default(), actor, drill, &end).await.map(drop)
        }
        Action::ReconcileRead => {
            let mismatch = acme_mismatch(pool, world).await;
            ops::reconcile::mismatch_detail(pool, actor, mismatch).await.map(drop)
        }
        Action::ReconcileRun => {
            use ops::reconcile::{CheckName, RunOrigin, RunRequest};
            let request = RunRequest { tenant: Some(ACME), ..RunRequest::one(CheckName::DuplicateOrder, RunOrigin::Console) };
            ops::reconcile::run(pool, None, actor, &request).await.map(drop)
        }
        Action::MismatchAcknowledge => {
            let mismatch = acme_mismatch(pool, world).await;
            ops::reconcile::acknowledge(pool, actor, mismatch).await.map(drop)
        }
        Action::MismatchFalsePositive => {
            let mismatch = acme_mismatch(pool, world).await;
            let form = ops::reconcile::FalsePositiveForm { reason: format!("expected here, said {}", actor.name) };
            ops::reconcile::mark_false_positive(pool, actor, mismatch, &ops::reconcile::FalsePositiveReason::parse(&form).unwrap())
                .await
                .map(drop)
        }
        Action::MismatchLinkIncident => {
            let mismatch = acme_mismatch(pool, world).await;
            ops::reconcile::link_incident(pool, actor, mismatch, id).await.map(drop)
        }
        Action::ReconcilePolicySet => {
            let form = ops::reconcile::AutoRepairForm {
                check: "outbox-backlog".into(),
                tenant: ACME.to_string(),
                enabled: "on".into(),
                max_per_run: "5".into(),
                reason: format!("allowed by {}", actor.name),
            };
            ops::reconcile::set_auto_repair(pool, actor, &ops::reconcile::AutoRepairForSet::parse(&form).unwrap()).await.map(drop)
        }
        Action::AuditVerify => {
            let report = ops::audit::verify_chain(pool, actor).await?;
            assert!(report.holds(), "{report:?}");
            Ok(())
        }
    }
}

async fn refused_lines(pool: &PgPool) -> Vec<AuditLine> {
    ops::testing::audit_lines(pool).await.into_iter().filter(|l| l.outcome == "REFUSED").collect()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_demo_user_may_run_exactly_the_commands_the_matrix_grants(pool: PgPool) {
    let world = world(&pool, ACME, "m").await;
    high_risk_releases(&pool).await;
    let users = demo_users();
    assert_eq!(users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), USERS, "the realm's demo users");
    let covered: BTreeSet<&str> = MATRIX.iter().map(|(a, _)| a.name()).collect();
    let all: BTreeSet<&str> = Action::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(covered, all, "every command has a row in the matrix");

    for (action, allowed) in MATRIX {
        for (user, may) in users.iter().zip(allowed) {
            let refused_before = refused_lines(&pool).await.len();
            let result = run(&pool, &world, user, action).await;
            match result {
                Ok(()) => assert!(may, "{} may not {action}, yet it was allowed", user.name),
                Err(e) if e.kind() == ErrorKind::NotAllowed => {
                    assert!(!may, "{} may {action}, yet it was refused: {e}", user.name);
                    // `prepared` wrote its incident before the command ran: compare from after it.
                    let lines = refused_lines(&pool).await;
                    assert_eq!(lines.len(), refused_before + 1, "{} {action}: one REFUSED line", user.name);
                    let line = lines.last().unwrap();
                    assert_eq!((line.action.as_str(), line.actor_name.as_str()), (action.name(), user.name.as_str()));
                }
                Err(e) => panic!("{} {action}: {e}", user.name),
            }
        }
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_refused_command_writes_nothing_but_its_audit_line(pool: PgPool) {
    world(&pool, ACME, "n").await;
    let system = Actor::system("matrix");
    let id = declare(&pool, &system, "SEV2", &[ACME], &[]).await.incident_id;
    let gwen = ops::testing::demo_user("gwen.globex");
    let vera = ops::testing::demo_user("vera.viewer");
    let before = footprint(&pool).await;
    let refused_before = refused_lines(&pool).await.len();
    for actor in [&gwen, &vera] {
        let err = change_status(&pool, actor, id, 1, &step(IncidentCommand::Mitigate, "paused the flow")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAllowed, "{err}");
        let note = NoteForAdd::parse(&NoteForm { text: "a note".into(), ..Default::default() }).unwrap();
        assert_eq!(add_note(&pool, actor, id, &note).await.unwrap_err().kind(), ErrorKind::NotAllowed);
    }
    assert_eq!(footprint(&pool).await, before);
    assert_eq!(refused_lines(&pool).await.len(), refused_before + 4);
}
