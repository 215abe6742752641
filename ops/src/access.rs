//! The audit of access: who signed in (or failed to, and why), who signed out, which service tokens and
//! cross-origin requests were refused. Refused commands are audited by [`crate::command::guard`].
//!
//! Tokens, codes and cookies are never written here, whole or in part: only what was decided and why.

use serde_json::{json, Value};
use sqlx::PgExecutor;

use crate::audit::{self, AuditEntry, Outcome};
use crate::identity::{Actor, ActorKind};

pub const SIGN_IN: &str = "SIGN_IN";
pub const SIGN_OUT: &str = "SIGN_OUT";
/// A bearer token presented to the internal API and not accepted.
pub const SERVICE_TOKEN: &str = "SERVICE_TOKEN";
/// A state-changing request that did not come from the console's own pages.
pub const CROSS_ORIGIN_REQUEST: &str = "CROSS_ORIGIN_REQUEST";

/// Longest text taken from a request (a claimed client id, a path) into the audit log.
const MAX_ECHO: usize = 200;

/// Untrusted text, cut to a bounded length, for an audit detail.
pub fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHO).collect()
}

pub async fn signed_in<'e>(db: impl PgExecutor<'e>, actor: &Actor, detail: Value) -> Result<i64, sqlx::Error> {
    audit::append(
        db,
        AuditEntry {
            actor,
            action: SIGN_IN,
            outcome: Outcome::Succeeded,
            tenant: None,
            entity: None,
            reason: None,
            detail,
        },
    )
    .await
}

/// A sign-in that did not complete. `actor` is the person when the identity provider vouched for them
/// (they have no opsdeck role, say), [`Actor::unidentified`] otherwise.
pub async fn sign_in_failed<'e>(
    db: impl PgExecutor<'e>,
    actor: Option<&Actor>,
    reason: &str,
    detail: Value,
) -> Result<i64, sqlx::Error> {
    let unidentified = Actor::unidentified(ActorKind::User);
    audit::append(
        db,
        AuditEntry {
            actor: actor.unwrap_or(&unidentified),
            action: SIGN_IN,
            outcome: Outcome::Failed,
            tenant: None,
            entity: None,
            reason: Some(reason),
            detail,
        },
    )
    .await
}

/// `reason` says how the session ended: signed out, or its lifetime reached.
pub async fn signed_out<'e>(db: impl PgExecutor<'e>, actor: &Actor, reason: &str) -> Result<i64, sqlx::Error> {
    audit::append(
        db,
        AuditEntry {
            actor,
            action: SIGN_OUT,
            outcome: Outcome::Succeeded,
            tenant: None,
            entity: None,
            reason: Some(reason),
            detail: json!({}),
        },
    )
    .await
}

/// A refused bearer token, with why (expired, bad signature, wrong issuer, wrong audience, …). The actor
/// is unidentified: a refused token proves nothing about who sent it. What it claimed goes in `detail`,
/// marked as such.
pub async fn token_refused<'e>(db: impl PgExecutor<'e>, reason: &str, detail: Value) -> Result<i64, sqlx::Error> {
    audit::append(
        db,
        AuditEntry {
            actor: &Actor::unidentified(ActorKind::Service),
            action: SERVICE_TOKEN,
            outcome: Outcome::Refused,
            tenant: None,
            entity: None,
            reason: Some(reason),
            detail,
        },
    )
    .await
}

pub async fn cross_origin_refused<'e>(
    db: impl PgExecutor<'e>,
    actor: &Actor,
    reason: &str,
    detail: Value,
) -> Result<i64, sqlx::Error> {
    audit::append(
        db,
        AuditEntry {
            actor,
            action: CROSS_ORIGIN_REQUEST,
            outcome: Outcome::Refused,
            tenant: None,
            entity: None,
            reason: Some(reason),
            detail,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_text_is_bounded() {
        assert_eq!(echo(&"x".repeat(1000)).chars().count(), MAX_ECHO);
        assert_eq!(echo("opsdeck-internal"), "opsdeck-internal");
    }
}
