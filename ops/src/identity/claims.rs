//! From verified identity-provider claims to an [`Actor`].
//!
//! Pure: the caller has already verified the token (signature, issuer, audience, expiry) and hands in its
//! claims as JSON. Where the roles and the tenant scope are in that JSON is configuration
//! ([`ClaimPaths`], dotted paths such as Keycloak's `realm_access.roles`), because every identity provider
//! puts them somewhere else. Nothing here trusts a value it cannot parse: unknown role names and
//! malformed tenant ids are dropped and reported, never guessed at.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Actor, ActorKind, Permission, Role, TenantScope};

/// Where roles and tenants are found in the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPaths {
    /// Dotted path to a list of role names (Keycloak realm roles: `realm_access.roles`).
    pub roles: String,
    /// Dotted path to a list of tenant ids, or `["*"]` for every tenant.
    pub tenants: String,
}

impl Default for ClaimPaths {
    fn default() -> Self {
        ClaimPaths { roles: "realm_access.roles".to_string(), tenants: "tenants".to_string() }
    }
}

/// A service token's `scope` values and the permission each one grants (intersected with the role's).
pub const SCOPE_PERMISSIONS: [(&str, Permission); 2] =
    [("ops.read", Permission::Read), ("ops.repair", Permission::RequestRepair)];

/// Why claims do not make an actor. Said to the person signing in and written to the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("the token has no subject (sub)")]
    MissingSubject,
    #[error("no opsdeck role in claim `{path}` (found: {found})")]
    NoRole { path: String, found: String },
    #[error("the token's roles (claim `{path}`) do not include service (found: {found})")]
    NoServiceRole { path: String, found: String },
}

/// A person, as the claims describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonClaims {
    /// Roles, tenant scope; `name` is the login name (`preferred_username`), stable and unique.
    pub actor: Actor,
    /// The name to greet them by (`name`), falling back to the login name.
    pub display_name: String,
    pub email: Option<String>,
    /// Role names in the claim that are not opsdeck roles (Keycloak's defaults, say).
    pub ignored_roles: Vec<String>,
    /// Values of the tenants claim that are neither `*` nor a tenant id.
    pub ignored_tenants: Vec<String>,
}

/// The value at a dotted `path`. A key that itself contains dots (`https://example.com/roles`, as some
/// identity providers namespace their claims) is matched whole before the path is split at a dot.
pub fn lookup<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    let object = claims.as_object()?;
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    // The longest key prefix first, so `a.b.c` prefers key `a.b` then `c` over key `a` then `b.c`.
    path.rmatch_indices('.').find_map(|(dot, _)| {
        let (key, rest) = (&path[..dot], &path[dot + 1..]);
        object.get(key).and_then(|inner| lookup(inner, rest))
    })
}

/// The strings of a claim: a JSON list of strings, or one string. Anything else holds none.
pub fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn string_claim(claims: &Value, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Opsdeck roles among the names, sorted and without repeats; the other names are returned apart.
fn roles(names: &[String]) -> (Vec<Role>, Vec<String>) {
    let mut known = BTreeSet::new();
    let mut ignored = Vec::new();
    for name in names {
        match Role::from_claim(name) {
            Some(role) => {
                known.insert(role);
            }
            None => ignored.push(name.clone()),
        }
    }
    (known.into_iter().collect(), ignored)
}

fn found(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

/// A person from the claims of their ID token (and userinfo). Refused without a subject or without any
/// opsdeck role: such a person could see nothing, and would only wonder why.
pub fn person(claims: &Value, paths: &ClaimPaths) -> Result<PersonClaims, ClaimsError> {
    let subject = string_claim(claims, "sub").ok_or(ClaimsError::MissingSubject)?;
    let login = string_claim(claims, "preferred_username")
        .or_else(|| string_claim(claims, "email"))
        .unwrap_or_else(|| subject.clone());
    let display_name = string_claim(claims, "name").unwrap_or_else(|| login.clone());
    let role_names = strings(lookup(claims, &paths.roles));
    let (roles, ignored_roles) = roles(&role_names);
    if roles.is_empty() {
        return Err(ClaimsError::NoRole { path: paths.roles.clone(), found: found(&role_names) });
    }
    let tenant_values = strings(lookup(claims, &paths.tenants));
    let (tenants, ignored_tenants) = TenantScope::from_claim(tenant_values.iter().map(String::as_str));
    Ok(PersonClaims {
        actor: Actor::user(subject, login, roles, tenants),
        display_name,
        email: string_claim(claims, "email"),
        ignored_roles,
        ignored_tenants,
    })
}

/// A service from the claims of its client-credentials access token. It acts as itself: its subject is
/// its service account's `sub`, its name the client (`azp`, or `client_id`). It keeps only the service
/// role (whatever else its account was given), and may use only what its `scope` grants on top.
pub fn service(claims: &Value, paths: &ClaimPaths) -> Result<Actor, ClaimsError> {
    let subject = string_claim(claims, "sub").ok_or(ClaimsError::MissingSubject)?;
    let name = string_claim(claims, "azp").or_else(|| string_claim(claims, "client_id")).unwrap_or_else(|| subject.clone());
    let role_names = strings(lookup(claims, &paths.roles));
    if !role_names.iter().any(|r| Role::from_claim(r) == Some(Role::Service)) {
        return Err(ClaimsError::NoServiceRole { path: paths.roles.clone(), found: found(&role_names) });
    }
    let tenant_values = strings(lookup(claims, &paths.tenants));
    let (tenants, _) = TenantScope::from_claim(tenant_values.iter().map(String::as_str));
    Ok(Actor {
        subject,
        name,
        kind: ActorKind::Service,
        roles: vec![Role::Service],
        tenants,
        token_permissions: Some(scope_permissions(string_claim(claims, "scope").as_deref().unwrap_or(""))),
    })
}

/// The permissions a space-separated OAuth `scope` grants; other scopes (`profile`, `email`) grant none.
pub fn scope_permissions(scope: &str) -> Vec<Permission> {
    let mut granted: Vec<Permission> = SCOPE_PERMISSIONS
        .iter()
        .filter(|(name, _)| scope.split_ascii_whitespace().any(|s| s == *name))
        .map(|&(_, permission)| permission)
        .collect();
    granted.dedup();
    granted
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::tenants::{ACME, GLOBEX};
    use serde_json::json;

    fn keycloak_id_token() -> Value {
        json!({
            "sub": "3f0c8a6e-1111-4222-8333-944455556666",
            "preferred_username": "olga.opsapprover",
            "name": "Olga Opsapprover",
            "email": "olga.opsapprover@opsdeck.example",
            "realm_access": { "roles": ["default-roles-opsdeck", "operator", "approver", "offline_access"] },
            "tenants": [ACME.to_string(), GLOBEX.to_string()],
        })
    }

    #[test]
    fn keycloak_realm_roles_and_tenants_make_a_person() {
        let person = person(&keycloak_id_token(), &ClaimPaths::default()).unwrap();
        assert_eq!(person.actor.subject, "3f0c8a6e-1111-4222-8333-944455556666");
        assert_eq!(person.actor.name, "olga.opsapprover");
        assert_eq!(person.actor.kind, ActorKind::User);
        assert_eq!(person.actor.roles, vec![Role::Operator, Role::Approver]);
        assert!(person.actor.can_see_tenant(ACME) && person.actor.can_see_tenant(GLOBEX));
        assert!(!person.actor.can_see_tenant(platform::tenants::INITECH));
        assert_eq!(person.display_name, "Olga Opsapprover");
        assert_eq!(person.email.as_deref(), Some("olga.opsapprover@opsdeck.example"));
        assert_eq!(person.ignored_roles, vec!["default-roles-opsdeck", "offline_access"]);
        assert_eq!(person.actor.token_permissions, None);
    }

    #[test]
    fn a_star_in_the_tenants_claim_is_every_tenant() {
        let claims = json!({ "sub": "s", "realm_access": { "roles": ["viewer"] }, "tenants": ["*"] });
        assert_eq!(person(&claims, &ClaimPaths::default()).unwrap().actor.tenants, TenantScope::All);
    }

    #[test]
    fn claim_paths_are_configurable_and_may_name_keys_with_dots() {
        let claims = json!({
            "sub": "s",
            "https://opsdeck.example/roles": ["comms"],
            "org": { "opsdeck": { "tenants": ACME.to_string() } },
        });
        let paths =
            ClaimPaths { roles: "https://opsdeck.example/roles".into(), tenants: "org.opsdeck.tenants".into() };
        let person = person(&claims, &paths).unwrap();
        assert_eq!(person.actor.roles, vec![Role::Comms]);
        assert_eq!(person.actor.tenants, TenantScope::from_claim([ACME.to_string().as_str()]).0);
    }

    #[test]
    fn lookup_walks_objects_and_stops_at_anything_else() {
        let claims = json!({ "a": { "b": { "c": 1 } }, "x": [1, 2], "d.e": 2 });
        assert_eq!(lookup(&claims, "a.b.c"), Some(&json!(1)));
        assert_eq!(lookup(&claims, "d.e"), Some(&json!(2)));
        assert_eq!(lookup(&claims, "a.b.missing"), None);
        assert_eq!(lookup(&claims, "x.0"), None);
        assert_eq!(lookup(&claims, ""), None);
    }

    #[test]
    fn a_person_without_an_opsdeck_role_is_refused_with_what_was_found() {
        let claims = json!({ "sub": "s", "realm_access": { "roles": ["default-roles-opsdeck"] } });
        assert_eq!(
            person(&claims, &ClaimPaths::default()).unwrap_err().to_string(),
            "no opsdeck role in claim `realm_access.roles` (found: default-roles-opsdeck)"
        );
        let no_claim = json!({ "sub": "s" });
        assert_eq!(
            person(&no_claim, &ClaimPaths::default()).unwrap_err(),
            ClaimsError::NoRole { path: "realm_access.roles".into(), found: "nothing".into() }
        );
    }

    #[test]
    fn claims_without_a_subject_are_refused() {
        let claims = json!({ "sub": "  ", "realm_access": { "roles": ["admin"] } });
        assert_eq!(person(&claims, &ClaimPaths::default()).unwrap_err(), ClaimsError::MissingSubject);
    }

    #[test]
    fn no_tenants_claim_means_no_tenant_and_garbage_is_reported() {
        let claims = json!({ "sub": "s", "realm_access": { "roles": ["viewer"] }, "tenants": ["acme", 7] });
        let person = person(&claims, &ClaimPaths::default()).unwrap();
        assert_eq!(person.actor.tenants, TenantScope::Only(Default::default()));
        assert_eq!(person.ignored_tenants, vec!["acme"]);
    }

    fn client_credentials_token(scope: &str) -> Value {
        json!({
            "sub": "9a1d0c55-aaaa-4bbb-8ccc-ddddeeeeffff",
            "azp": "opsdeck-internal",
            "aud": "opsdeck-api",
            "scope": scope,
            "realm_access": { "roles": ["service", "admin"] },
            "tenants": ["*"],
        })
    }

    #[test]
    fn a_service_acts_as_itself_with_only_the_service_role_and_its_scopes() {
        let actor = service(&client_credentials_token("profile ops.read email"), &ClaimPaths::default()).unwrap();
        assert_eq!(actor.subject, "9a1d0c55-aaaa-4bbb-8ccc-ddddeeeeffff");
        assert_eq!(actor.name, "opsdeck-internal");
        assert_eq!(actor.kind, ActorKind::Service);
        assert_eq!(actor.roles, vec![Role::Service], "an admin role on a service account is not carried over");
        assert_eq!(actor.token_permissions, Some(vec![Permission::Read]));
        assert_eq!(actor.permissions(), vec![Permission::Read]);
    }

    #[test]
    fn the_repair_scope_adds_request_repair() {
        let actor = service(&client_credentials_token("ops.read ops.repair"), &ClaimPaths::default()).unwrap();
        assert_eq!(actor.permissions(), vec![Permission::Read, Permission::RequestRepair]);
    }

    #[test]
    fn a_token_without_the_service_role_is_not_a_service() {
        let claims = json!({ "sub": "s", "azp": "someone", "scope": "ops.read", "realm_access": { "roles": ["operator"] } });
        assert_eq!(
            service(&claims, &ClaimPaths::default()).unwrap_err().to_string(),
            "the token's roles (claim `realm_access.roles`) do not include service (found: operator)"
        );
    }

    #[test]
    fn unknown_scopes_grant_nothing() {
        assert_eq!(scope_permissions("openid profile ops.readall"), vec![]);
        assert_eq!(scope_permissions("ops.read ops.read"), vec![Permission::Read]);
    }
}
