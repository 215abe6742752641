//! Who may do what to an incident: the role × command matrix over every role (only comms posts status
//! updates), and tenant scope — a refusal writes its REFUSED audit line and nothing else.

mod common;

use common::*;
use ops::identity::{Actor, Refusal, Role, TenantScope};
use ops::incident::*;
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

/// The refusal inside an error, when it is one.
fn refusal(result: &Result<()>) -> Option<&Refusal> {
    result.as_ref().err().and_then(|e| e.refused()).map(|r| &r.refusal)
}

/// The incident commands and reads, each run as `actor` on `incident`; Ok(()) when it was allowed.
async fn run(pool: &PgPool, actor: &Actor, command: &str, incident: IncidentId) -> Result<()> {
    let v = version(pool, incident).await;
    match command {
        "declare" => {
            declare_incident(pool, actor, &IncidentForDeclare::parse(&declare_form("SEV3", &[ACME], &[])).unwrap())
                .await
                .map(drop)
        }
        "triage" => {
            let mut form = detail(pool, incident).await.triage.to_form();
            form.current_hypothesis = format!("hypothesis by {}", actor.name);
            save_triage(pool, actor, incident, v, &TriageForSave::parse(&form).unwrap()).await.map(drop)
        }
        "impact" => {
            let impact = Impact { operational: Some(format!("assessed by {}", actor.name)), ..Impact::default() };
            save_impact(pool, actor, incident, v, &impact).await.map(drop)
        }
        "severity" => {
            let to =
                if detail(pool, incident).await.severity == Severity::Sev2 { Severity::Sev3 } else { Severity::Sev2 };
            change_severity(
                pool,
                actor,
                incident,
                v,
                &SeverityChange { severity: to, reason: reason("scope changed meanwhile") },
            )
            .await
            .map(drop)
        }
        "note" => add_note(
            pool,
            actor,
            incident,
            &NoteForAdd::parse(&NoteForm { text: "a note".into(), ..Default::default() }).unwrap(),
        )
        .await
        .map(drop),
        "status_update" => post_status_update(
            pool,
            actor,
            incident,
            v,
            &StatusUpdateForPost::parse(&internal_update()).unwrap(),
            &Webhooks::none(),
        )
        .await
        .map(drop),
        "review" => {
            let review = detail(pool, incident).await.review.map(|r| r.version);
            let sections = ReviewSections { summary: Some(format!("by {}", actor.name)), ..Default::default() };
            save_review(pool, actor, incident, review, &sections).await.map(drop)
        }
        "action_item" => add_action_item(
            pool,
            actor,
            incident,
            &ActionItemForSave::parse(&ActionItemForm {
                action: "Alert on stuck orchestration".into(),
                item_type: "ALERT".into(),
                category: "DETECT".into(),
                ..Default::default()
            })
            .unwrap(),
        )
        .await
        .map(drop),
        "mitigate" => {
            change_status(pool, actor, incident, v, &step(IncidentCommand::Mitigate, "paused the failing flow"))
                .await
                .map(drop)
        }
        "read" => {
            list_incidents(pool, actor, &IncidentListQuery::parse(&IncidentListForm::default()).unwrap()).await?;
            incident_detail(pool, actor, incident, TimelineFilter::ALL).await.map(drop)
        }
        other => panic!("unknown command {other}"),
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_role_may_run_exactly_the_incident_commands_its_permissions_grant(pool: PgPool) {
    world(&pool, ACME, "1").await;
    #[rustfmt::skip]
    let expected: [(&str, [bool; 6]); 10] = [
        //                  viewer operator approver comms  admin  service
        ("declare",        [false, true,    false,   true,  true,  false]),
        ("triage",         [false, true,    false,   false, true,  false]),
        ("impact",         [false, true,    false,   false, true,  false]),
        ("severity",       [false, true,    false,   false, true,  false]),
        ("note",           [false, true,    false,   false, true,  false]),
        ("status_update",  [false, false,   false,   true,  false, false]),
        ("review",         [false, true,    false,   false, true,  false]),
        ("action_item",    [false, true,    false,   false, true,  false]),
        ("mitigate",       [false, true,    false,   false, true,  false]),
        ("read",           [true,  true,    true,    true,  true,  true ]),
    ];
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let incident = declare(&pool, &Actor::system("test"), "SEV2", &[ACME], &[]).await.incident_id;
        let someone = actor(role.as_str(), &[role], TenantScope::All);
        for (command, allowed) in &expected {
            let before = footprint(&pool).await;
            let refused_before = audit_lines(&pool, "REFUSED").await;
            let result = run(&pool, &someone, command, incident).await;
            match (&result, refusal(&result)) {
                (Ok(()), _) => assert!(allowed[i], "{role} may not {command}, yet it was allowed"),
                (Err(_), Some(Refusal::MissingRole { .. })) => {
                    assert!(!allowed[i], "{role} may {command}, yet it was refused");
                    assert_eq!(footprint(&pool).await, before, "{role} {command}: a refusal writes nothing");
                    assert_eq!(
                        audit_lines(&pool, "REFUSED").await,
                        refused_before + 1,
                        "{role} {command}: …but its audit line"
                    );
                }
                (Err(other), _) => panic!("{role} {command}: {other}"),
            }
        }
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_command_outside_the_actors_tenant_scope_writes_its_refused_audit_line_and_nothing_else(pool: PgPool) {
    world(&pool, ACME, "2").await;
    let incident = declare(&pool, &operator(), "SEV2", &[ACME], &[]).await.incident_id;
    let gwen = actor("gwen.globex", &[Role::Operator], only(&[GLOBEX]));

    let before = footprint(&pool).await;
    let audit_before = count(&pool, "select count(*) from ops.audit_log").await;
    let result = run(&pool, &gwen, "triage", incident).await;
    assert_eq!(refusal(&result), Some(&Refusal::TenantOutOfScope { tenant: ACME }), "{result:?}");

    assert_eq!(footprint(&pool).await, before);
    assert_eq!(count(&pool, "select count(*) from ops.audit_log").await, audit_before + 1);
    let (action, outcome, tenant, entity, subject, reason): (String, String, Option<uuid::Uuid>, Option<uuid::Uuid>, String, String) =
        sqlx::query_as(
            "select action, outcome, tenant_id, entity_id, actor_subject, reason from ops.audit_log order by audit_id desc limit 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (action.as_str(), outcome.as_str(), tenant, entity, subject.as_str()),
        ("incident.triage", "REFUSED", Some(ACME.as_uuid()), Some(incident.as_uuid()), "sub-gwen.globex")
    );
    assert_eq!(reason, format!("tenant {ACME} is outside your tenant scope"));

    // Declaring for a tenant outside the scope is refused the same way.
    let result = declare_incident(
        &pool,
        &gwen,
        &IncidentForDeclare::parse(&declare_form("SEV3", &[ACME, GLOBEX], &[])).unwrap(),
    )
    .await
    .map(drop);
    assert_eq!(refusal(&result), Some(&Refusal::TenantOutOfScope { tenant: ACME }));
    assert_eq!(footprint(&pool).await, before);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_incident_is_seen_by_anyone_scoped_to_one_of_its_tenants_and_changed_only_with_all_of_them(pool: PgPool) {
    world(&pool, ACME, "3").await;
    let both = declare(&pool, &operator(), "SEV2", &[ACME, GLOBEX], &[]).await.incident_id;
    let acme_only = declare(&pool, &operator(), "SEV3", &[ACME], &[]).await.incident_id;
    let olga = actor("olga", &[Role::Operator], only(&[ACME, GLOBEX]));
    let gwen = actor("gwen", &[Role::Operator], only(&[GLOBEX]));

    run(&pool, &olga, "note", both).await.unwrap();
    let seen = incident_detail(&pool, &gwen, both, TimelineFilter::ALL).await.unwrap();
    assert_eq!(seen.tenants.len(), 2, "a visible incident is shown whole");
    assert_eq!(refusal(&run(&pool, &gwen, "note", both).await), Some(&Refusal::TenantOutOfScope { tenant: ACME }));

    // Reading an incident of no tenant in scope is refused, and the refusal is on record.
    let refused_before = audit_lines(&pool, "REFUSED").await;
    let read = incident_detail(&pool, &gwen, acme_only, TimelineFilter::ALL).await.map(drop);
    assert_eq!(refusal(&read), Some(&Refusal::TenantOutOfScope { tenant: ACME }), "{read:?}");
    assert_eq!(audit_lines(&pool, "REFUSED").await, refused_before + 1);
    let listed =
        list_incidents(&pool, &gwen, &IncidentListQuery::parse(&IncidentListForm::default()).unwrap()).await.unwrap();
    assert_eq!(listed.items.iter().map(|i| i.incident_id).collect::<Vec<_>>(), [both]);
    let filtered =
        IncidentListQuery::parse(&IncidentListForm { tenant: ACME.to_string(), ..Default::default() }).unwrap();
    let listed = list_incidents(&pool, &gwen, &filtered).await.map(drop);
    assert_eq!(refusal(&listed), Some(&Refusal::TenantOutOfScope { tenant: ACME }));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_platform_wide_incident_is_for_people_scoped_to_every_tenant(pool: PgPool) {
    world(&pool, ACME, "4").await;
    let wide = declare(&pool, &operator(), "SEV1", &[], &[]).await.incident_id;
    let acme_operator = actor("ann", &[Role::Operator], only(&[ACME]));

    assert_eq!(refusal(&run(&pool, &acme_operator, "note", wide).await), Some(&Refusal::PlatformWide));
    assert_eq!(audit_lines(&pool, "REFUSED").await, 1);
    let read = incident_detail(&pool, &acme_operator, wide, TimelineFilter::ALL).await.map(drop);
    assert_eq!(refusal(&read), Some(&Refusal::PlatformWide));
    let declared =
        declare_incident(&pool, &acme_operator, &IncidentForDeclare::parse(&declare_form("SEV1", &[], &[])).unwrap())
            .await
            .map(drop);
    assert_eq!(refusal(&declared), Some(&Refusal::PlatformWide));
    run(&pool, &operator(), "note", wide).await.unwrap();
    incident_detail(&pool, &viewer(), wide, TimelineFilter::ALL).await.unwrap();
}
