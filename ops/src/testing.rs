//! Test support for every crate that tests through `ops` (its own tests, the server's): the demo users of
//! the dev realm as actors, and the audit log as lines to assert on. Compiled only for tests (`cfg(test)`)
//! or with the `testing` feature, which the test crates enable in their dev-dependencies.

use std::collections::BTreeSet;

use platform::ids::TenantId;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::identity::{Actor, ActorKind, Permission, Role, TenantScope};

/// The dev realm the demo and the browser tests sign in to: the demo users are read from it, so the
/// actors here hold exactly the roles and tenants Keycloak gives them.
const REALM: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/keycloak/opsdeck-realm.json"));

#[derive(Deserialize)]
struct Realm {
    users: Vec<RealmUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RealmUser {
    username: String,
    #[serde(default)]
    realm_roles: Vec<String>,
    #[serde(default)]
    attributes: RealmAttributes,
}

#[derive(Deserialize, Default)]
struct RealmAttributes {
    #[serde(default)]
    tenants: Vec<String>,
}

/// The people of the dev realm (not its service accounts), in the realm's order, as the console builds
/// their actors from their tokens (subject `sub-<username>` here; Keycloak's is a UUID).
pub fn demo_users() -> Vec<Actor> {
    let realm: Realm = serde_json::from_str(REALM).expect("the dev realm file is JSON");
    realm
        .users
        .into_iter()
        .filter(|u| !u.username.starts_with("service-account-"))
        .map(|u| {
            let roles: Vec<Role> = u.realm_roles.iter().filter_map(|r| Role::from_claim(r)).collect();
            let (tenants, _) = TenantScope::from_claim(u.attributes.tenants.iter().map(String::as_str));
            Actor::user(format!("sub-{}", u.username), u.username, roles, tenants)
        })
        .collect()
}

/// One demo user by username.
pub fn demo_user(username: &str) -> Actor {
    demo_users().into_iter().find(|a| a.name == username).unwrap_or_else(|| panic!("no demo user {username}"))
}

/// A person with these roles and tenants.
pub fn person(name: &str, roles: &[Role], tenants: TenantScope) -> Actor {
    Actor::user(format!("sub-{name}"), name, roles.to_vec(), tenants)
}

/// The tenant scope of exactly these tenants.
pub fn only(tenants: &[TenantId]) -> TenantScope {
    TenantScope::Only(tenants.iter().copied().collect::<BTreeSet<_>>())
}

/// A service on the internal API whose token grants `permissions`.
pub fn service(permissions: &[Permission]) -> Actor {
    Actor {
        kind: ActorKind::Service,
        token_permissions: Some(permissions.to_vec()),
        ..Actor::user("sub-svc", "opsdeck-internal", vec![Role::Service], TenantScope::All)
    }
}

/// One line of `ops.audit_log`, as tests look at it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditLine {
    pub actor_subject: String,
    pub actor_name: String,
    pub actor_kind: String,
    pub action: String,
    pub outcome: String,
    pub tenant_id: Option<Uuid>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
}

/// The whole audit log, oldest first.
pub async fn audit_lines(pool: &PgPool) -> Vec<AuditLine> {
    sqlx::query_as(
        "select actor_subject, actor_name, actor_kind, action, outcome, tenant_id, entity_type, entity_id, reason, detail
         from ops.audit_log order by audit_id",
    )
    .fetch_all(pool)
    .await
    .expect("the audit log reads")
}

/// How many audit lines have this outcome.
pub async fn audit_count(pool: &PgPool, outcome: &str) -> i64 {
    sqlx::query_scalar("select count(*) from ops.audit_log where outcome = $1")
        .bind(outcome)
        .fetch_one(pool)
        .await
        .expect("the audit log counts")
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::tenants::{ACME, GLOBEX};

    #[test]
    fn the_demo_users_are_read_from_the_dev_realm() {
        let users = demo_users();
        let names: Vec<&str> = users.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["vera.viewer", "oscar.operator", "ada.approver", "cora.comms", "adam.admin", "olga.opsapprover", "gwen.globex"]
        );
        let olga = demo_user("olga.opsapprover");
        assert_eq!(olga.roles, [Role::Operator, Role::Approver]);
        assert_eq!(olga.tenants, only(&[ACME, GLOBEX]));
        assert_eq!(demo_user("oscar.operator").tenants, TenantScope::All);
    }
}

/// Where the stack's services are, from the environment `scripts/stack.sh env` prints (its defaults
/// otherwise): what a test's [`crate::diagnostics::Diagnostics`] or readiness probes talk to.
pub fn probe_targets() -> crate::health::ProbeTargets {
    let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.to_string());
    crate::health::ProbeTargets {
        redis_url: env("OPSDECK_REDIS_URL", "redis://127.0.0.1:56379"),
        kafka_brokers: platform::testing::kafka_brokers(),
        engine_url: platform::testing::engine_url(),
        oidc_issuer: env("OPSDECK_OIDC_ISSUER", "http://127.0.0.1:58180/realms/opsdeck"),
    }
}
