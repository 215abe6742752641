//! The command runner against a real database: who may, who may not, what the audit log says, and that a
//! refused or failed command leaves nothing but its audit line.

use ops::command::{read, run, Action, Envelope};
use ops::identity::{Permission, Role, TenantScope};
use ops::testing::{audit_lines, person, service, AuditLine};
use ops::{Error, ErrorKind};
use platform::tenants::{ACME, GLOBEX};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn acme_viewer() -> ops::identity::Actor {
    person("vera.viewer", &[Role::Viewer], TenantScope::from_claim([ACME.to_string().as_str()]).0)
}

fn operator() -> ops::identity::Actor {
    person("oscar.operator", &[Role::Operator], TenantScope::All)
}

/// A change the tests can see: a row in a scratch table, written inside the command's transaction.
async fn scratch(pool: &PgPool) {
    sqlx::query("create table if not exists public.scratch (id uuid primary key)").execute(pool).await.unwrap();
}

async fn scratch_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from public.scratch").fetch_one(pool).await.unwrap()
}

fn summary(lines: &[AuditLine]) -> Vec<(&str, &str)> {
    lines.iter().map(|l| (l.action.as_str(), l.outcome.as_str())).collect()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_refused_read_is_audited_with_who_what_and_why(pool: PgPool) {
    let order = Uuid::now_v7();
    let viewer = acme_viewer();
    let envelope = Envelope::new(&viewer, Action::OrderRead).tenant(GLOBEX).entity("ORDER", order);
    let error = read(&pool, envelope, async |_| Ok(())).await.unwrap_err();

    let refused = error.refused().expect("a refusal");
    assert_eq!(refused.to_string(), format!("order.read refused: tenant {GLOBEX} is outside your tenant scope."));
    assert_eq!(error.kind(), ErrorKind::NotAllowed);
    let lines = audit_lines(&pool).await;
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(
        (line.actor_subject.as_str(), line.actor_name.as_str(), line.actor_kind.as_str()),
        ("sub-vera.viewer", "vera.viewer", "USER")
    );
    assert_eq!((line.action.as_str(), line.outcome.as_str()), ("order.read", "REFUSED"));
    assert_eq!(line.tenant_id, Some(GLOBEX.as_uuid()));
    assert_eq!((line.entity_type.as_deref(), line.entity_id), (Some("ORDER"), Some(order)));
    assert_eq!(line.reason.as_deref(), Some(format!("tenant {GLOBEX} is outside your tenant scope").as_str()));
    assert_eq!(line.detail["permission"], "READ");
    assert_eq!(line.detail["refusal"], "TENANT_OUT_OF_SCOPE");
    assert_eq!(line.detail["roles"], json!(["viewer"]));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_missing_role_is_refused_before_the_body_runs(pool: PgPool) {
    scratch(&pool).await;
    let viewer = acme_viewer();
    let envelope = Envelope::new(&viewer, Action::IncidentDeclare).tenant(ACME);
    let error = run(&pool, envelope, async |cx| {
        sqlx::query("insert into public.scratch values ($1)").bind(Uuid::now_v7()).execute(cx.db()).await?;
        Ok(())
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains("DECLARE_INCIDENT needs one of the roles operator, comms, admin; you have viewer"));
    assert_eq!(scratch_rows(&pool).await, 0);
    assert_eq!(summary(&audit_lines(&pool).await), [("incident.declare", "REFUSED")]);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_change_commits_with_its_succeeded_line_in_one_transaction(pool: PgPool) {
    scratch(&pool).await;
    let id = Uuid::now_v7();
    let operator = operator();
    let envelope = Envelope::new(&operator, Action::IncidentNote).tenant(ACME).reason("because it matters");
    let out = run(&pool, envelope, async |cx| {
        sqlx::query("insert into public.scratch values ($1)").bind(id).execute(cx.db()).await?;
        cx.about("SCRATCH", id);
        cx.record(json!({ "wrote": id }));
        Ok(7)
    })
    .await
    .unwrap();
    assert_eq!(out, 7);
    assert_eq!(scratch_rows(&pool).await, 1);
    let lines = audit_lines(&pool).await;
    assert_eq!(summary(&lines), [("incident.note", "SUCCEEDED")]);
    assert_eq!(lines[0].entity_id, Some(id));
    assert_eq!(lines[0].reason.as_deref(), Some("because it matters"));
    assert_eq!(lines[0].detail["result"], json!({ "wrote": id }));
    assert_eq!(lines[0].detail["tenants"], json!([ACME]));
    assert_eq!(lines[0].detail["dry_run"], false);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_refusal_inside_the_body_rolls_back_everything_but_its_audit_line(pool: PgPool) {
    scratch(&pool).await;
    let acme_operator = person("olga", &[Role::Operator], TenantScope::from_claim([ACME.to_string().as_str()]).0);
    let error = run(&pool, Envelope::new(&acme_operator, Action::IncidentTriage), async |cx| {
        sqlx::query("insert into public.scratch values ($1)").bind(Uuid::now_v7()).execute(cx.db()).await?;
        // What the body loaded concerns globex too.
        cx.require_tenants(&[ACME, GLOBEX])?;
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotAllowed);
    assert_eq!(scratch_rows(&pool).await, 0, "the body's write was rolled back");
    let lines = audit_lines(&pool).await;
    assert_eq!(summary(&lines), [("incident.triage", "REFUSED")]);
    assert_eq!(lines[0].tenant_id, Some(GLOBEX.as_uuid()));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_rule_refusal_is_audited_and_invalid_input_writes_nothing(pool: PgPool) {
    scratch(&pool).await;
    let rule = run(&pool, Envelope::new(&operator(), Action::IncidentClose), async |cx| -> ops::Result<()> {
        sqlx::query("insert into public.scratch values ($1)").bind(Uuid::now_v7()).execute(cx.db()).await?;
        Err(Error::rule("the incident cannot close yet"))
    })
    .await
    .unwrap_err();
    assert_eq!(rule.kind(), ErrorKind::Rule);
    let invalid = run(&pool, Envelope::new(&operator(), Action::IncidentNote), async |cx| -> ops::Result<()> {
        sqlx::query("insert into public.scratch values ($1)").bind(Uuid::now_v7()).execute(cx.db()).await?;
        Err(Error::invalid("text", "Write the note"))
    })
    .await
    .unwrap_err();
    assert_eq!(invalid.kind(), ErrorKind::Invalid);
    assert_eq!(scratch_rows(&pool).await, 0);
    let lines = audit_lines(&pool).await;
    assert_eq!(summary(&lines), [("incident.close", "REFUSED")], "invalid input leaves no line");
    assert_eq!(lines[0].detail["refusal"], "RULE");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_persons_allowed_read_is_not_audited_and_a_services_is(pool: PgPool) {
    read(&pool, Envelope::new(&acme_viewer(), Action::OrderRead).tenant(ACME), async |_| Ok(())).await.unwrap();
    assert!(audit_lines(&pool).await.is_empty());

    let svc = service(&[Permission::Read]);
    read(&pool, Envelope::new(&svc, Action::OrderRead).tenant(ACME), async |_| Ok(())).await.unwrap();
    let error = run(&pool, Envelope::new(&svc, Action::IncidentDeclare), async |_| Ok(())).await.unwrap_err();
    assert!(error.to_string().contains("DECLARE_INCIDENT needs one of the roles"), "{error}");
    let lines = audit_lines(&pool).await;
    let who: Vec<_> =
        lines.iter().map(|l| (l.actor_name.as_str(), l.actor_kind.as_str(), l.action.as_str(), l.outcome.as_str())).collect();
    assert_eq!(
        who,
        [
            ("opsdeck-internal", "SERVICE", "order.read", "ALLOWED"),
            ("opsdeck-internal", "SERVICE", "incident.declare", "REFUSED"),
        ]
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_read_cannot_write(pool: PgPool) {
    scratch(&pool).await;
    let error = read(&pool, Envelope::new(&operator(), Action::IncidentRead), async |cx| {
        sqlx::query("insert into public.scratch values ($1)").bind(Uuid::now_v7()).execute(cx.db()).await?;
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
    assert_eq!(scratch_rows(&pool).await, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_platform_wide_change_needs_every_tenant(pool: PgPool) {
    let error = run(&pool, Envelope::new(&acme_viewer(), Action::TenantList).tenants([]), async |_| Ok(()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("platform-wide"), "{error}");
    run(&pool, Envelope::new(&operator(), Action::IncidentDeclare).tenants([]), async |_| Ok(())).await.unwrap();
}
