//! The command guard against a real database: who may, who may not, and what the audit log says.

use ops::identity::{Actor, ActorKind, Permission, Role, TenantScope};
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, sqlx::FromRow, PartialEq)]
struct AuditLine {
    actor_subject: String,
    actor_name: String,
    actor_kind: String,
    action: String,
    outcome: String,
    tenant_id: Option<Uuid>,
    entity_type: Option<String>,
    reason: Option<String>,
}

async fn audit_lines(pool: &PgPool) -> Vec<AuditLine> {
    sqlx::query_as(
        "select actor_subject, actor_name, actor_kind, action, outcome, tenant_id, entity_type, reason
         from ops.audit_log order by audit_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn acme_viewer() -> Actor {
    Actor::user("sub-vera", "vera.viewer", vec![Role::Viewer], TenantScope::from_claim([ACME.to_string().as_str()]).0)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_refused_command_is_audited_with_who_what_and_why(pool: PgPool) {
    let order = Uuid::now_v7();
    let error = ops::command::guard(&pool, &acme_viewer(), Permission::Read, Some(GLOBEX), "READ_ORDER", Some(("ORDER", order)))
        .await
        .unwrap_err();

    let refused = error.refused().expect("a refusal");
    assert_eq!(refused.to_string(), format!("READ_ORDER refused: tenant {GLOBEX} is outside your tenant scope."));
    assert_eq!(
        audit_lines(&pool).await,
        vec![AuditLine {
            actor_subject: "sub-vera".into(),
            actor_name: "vera.viewer".into(),
            actor_kind: "USER".into(),
            action: "READ_ORDER".into(),
            outcome: "REFUSED".into(),
            tenant_id: Some(GLOBEX.as_uuid()),
            entity_type: Some("ORDER".into()),
            reason: Some(format!("tenant {GLOBEX} is outside your tenant scope")),
        }]
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_missing_role_is_refused_and_audited_even_in_scope(pool: PgPool) {
    let error = ops::command::guard(&pool, &acme_viewer(), Permission::RequestRepair, Some(ACME), "REQUEST_REPAIR", None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("REQUEST_REPAIR needs one of the roles operator, service; you have viewer"));
    let lines = audit_lines(&pool).await;
    assert_eq!((lines.len(), lines[0].outcome.as_str()), (1, "REFUSED"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_persons_allowed_command_leaves_the_audit_to_the_command(pool: PgPool) {
    ops::command::guard(&pool, &acme_viewer(), Permission::Read, Some(ACME), "READ_ORDER", None).await.unwrap();
    assert!(audit_lines(&pool).await.is_empty());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_services_allowed_command_is_audited_under_its_own_name(pool: PgPool) {
    let service = Actor {
        kind: ActorKind::Service,
        token_permissions: Some(vec![Permission::Read]),
        ..Actor::user("sub-svc", "opsdeck-internal", vec![Role::Service], TenantScope::All)
    };
    ops::command::guard(&pool, &service, Permission::Read, Some(ACME), "READ_ORDER", None).await.unwrap();
    let error = ops::command::guard(&pool, &service, Permission::RequestRepair, Some(ACME), "REQUEST_REPAIR", None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not among the permissions your token's scopes grant (READ)"), "{error}");
    let lines = audit_lines(&pool).await;
    let summary: Vec<_> = lines.iter().map(|l| (l.actor_name.as_str(), l.actor_kind.as_str(), l.action.as_str(), l.outcome.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            ("opsdeck-internal", "SERVICE", "READ_ORDER", "ALLOWED"),
            ("opsdeck-internal", "SERVICE", "REQUEST_REPAIR", "REFUSED"),
        ]
    );
}
