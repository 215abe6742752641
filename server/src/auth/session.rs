//! Console sessions: stored in PostgreSQL (tower-sessions with its sqlx store, table
//! `tower_sessions.session`, created by the store itself), so they survive a restart and are shared by
//! every replica. The browser holds only an opaque id in a cookie that is `HttpOnly`, `SameSite=Lax`, and
//! `Secure` when the console is served over https.
//!
//! A session ends after the idle timeout (the store's expiry) or at its absolute end (written at sign-in
//! and checked on every request), whichever comes first. Requests renew the idle expiry, but at most once
//! per [`renewal_interval`] (a minute at the usual 30-minute timeout): renewing means writing the session
//! row, and writing it on every page view cost a PostgreSQL commit per request for nothing. A session
//! therefore lasts between `idle − interval` and `idle` after the last request. Its id is replaced at
//! sign-in, so an id planted before sign-in is worthless after it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ops::identity::Actor;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tower_sessions::cookie::time;
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion as _;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// The session cookie's name.
pub const COOKIE: &str = "opsdeck_session";
const SIGNED_IN: &str = "signed_in";
const PENDING: &str = "pending_sign_in";
/// When the idle expiry was last renewed (the store's expiry is this plus the idle timeout).
const RENEWED_AT: &str = "idle_renewed_at";

/// Sign-ins started and not finished that a session keeps (one per tab, roughly).
const MAX_PENDING: usize = 5;
/// How long the identity provider's login page may take before the sign-in it started is forgotten.
pub const PENDING_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// A signed-in person. Lives only in the session store: the browser never sees it.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub actor: Actor,
    pub display_name: String,
    pub email: Option<String>,
    pub signed_in_at: DateTime<Utc>,
    /// The absolute end of the session.
    pub ends_at: DateTime<Utc>,
    /// Sent back to the provider as `id_token_hint` at sign-out, so it ends its session too.
    pub id_token: String,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("actor", &self.actor)
            .field("signed_in_at", &self.signed_in_at)
            .field("ends_at", &self.ends_at)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    pub fn has_ended(&self, now: DateTime<Utc>) -> bool {
        now >= self.ends_at
    }

    /// What the pages see of it; `renewed_at` is when its idle expiry was last renewed ([`renew_idle`]).
    pub fn viewer(&self, idle: Duration, renewed_at: DateTime<Utc>) -> app::viewer::Viewer {
        let idle_ends_at = renewed_at + chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::zero());
        app::viewer::Viewer {
            actor: self.actor.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            signed_in_at: self.signed_in_at,
            session_ends_at: self.ends_at,
            idle_ends_at: idle_ends_at.min(self.ends_at),
        }
    }
}

/// A sign-in sent to the identity provider and not yet back: what the callback must match.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The `state` parameter (CSRF protection of the redirect).
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go after signing in (a path of this console).
    pub next: String,
    pub started_at: DateTime<Utc>,
}

pub type Result<T> = std::result::Result<T, tower_sessions::session::Error>;

pub async fn signed_in(session: &Session) -> Result<Option<SignedIn>> {
    session.get(SIGNED_IN).await
}

/// Marks the session signed in, under a new id.
pub async fn sign_in(session: &Session, signed_in: &SignedIn) -> Result<()> {
    session.cycle_id().await?;
    session.remove_value(PENDING).await?;
    session.insert(RENEWED_AT, signed_in.signed_in_at).await?;
    session.insert(SIGNED_IN, signed_in).await
}

/// How often requests renew a session's idle expiry: a thirtieth of the idle timeout, at most a minute.
pub fn renewal_interval(idle: Duration) -> Duration {
    (idle / 30).min(Duration::from_secs(60))
}

/// Renews the idle expiry when the last renewal is older than [`renewal_interval`] (the session is then
/// written back, with a new expiry in the store and the cookie); returns when it was last renewed.
pub async fn renew_idle(session: &Session, idle: Duration, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let last: Option<DateTime<Utc>> = session.get(RENEWED_AT).await?;
    let interval = chrono::Duration::from_std(renewal_interval(idle)).unwrap_or(chrono::Duration::zero());
    match last {
        Some(last) if now - last < interval => Ok(last),
        _ => {
            session.insert(RENEWED_AT, now).await?;
            Ok(now)
        }
    }
}

/// Remembers a sign-in in flight; the oldest are dropped beyond [`MAX_PENDING`], the stale ones always.
pub async fn push_pending(session: &Session, pending: PendingSignIn, now: DateTime<Utc>) -> Result<()> {
    let mut all: Vec<PendingSignIn> = session.get(PENDING).await?.unwrap_or_default();
    all.retain(|p| now - p.started_at < PENDING_LIFETIME);
    all.push(pending);
    let excess = all.len().saturating_sub(MAX_PENDING);
    all.drain(..excess);
    session.insert(PENDING, all).await
}

/// Takes the pending sign-in with this `state`, if there is one and it is not stale. Used once.
pub async fn take_pending(session: &Session, state: &str, now: DateTime<Utc>) -> Result<Option<PendingSignIn>> {
    let mut all: Vec<PendingSignIn> = session.get(PENDING).await?.unwrap_or_default();
    let found = all.iter().position(|p| p.state == state).map(|i| all.remove(i));
    session.insert(PENDING, &all).await?;
    Ok(found.filter(|p| now - p.started_at < PENDING_LIFETIME))
}

/// The session layer over `store`, with the cookie attributes above.
pub fn layer(store: PostgresStore, idle: Duration, secure: bool) -> SessionManagerLayer<PostgresStore> {
    let idle = time::Duration::try_from(idle).unwrap_or(time::Duration::minutes(30));
    SessionManagerLayer::new(store)
        .with_name(COOKIE)
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        // Saved (and its expiry renewed, in the store and the cookie) when changed; `renew_idle` changes
        // it often enough to keep an active session alive.
        .with_expiry(Expiry::OnInactivity(idle))
}

/// The store, its table created if missing. When PostgreSQL is not there yet, the table is created as
/// soon as it is (retried in the background); until then session reads fail and pages answer 503.
pub async fn store(pool: PgPool) -> PostgresStore {
    let store = PostgresStore::new(pool);
    match tokio::time::timeout(Duration::from_secs(5), store.migrate()).await {
        Ok(Ok(())) => {}
        outcome => {
            let error = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_string(),
            };
            tracing::warn!(%error, "cannot create the session table yet; retrying in the background");
            let retrying = store.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    match retrying.migrate().await {
                        Ok(()) => {
                            tracing::info!("session table ready");
                            break;
                        }
                        Err(error) => tracing::warn!(%error, "cannot create the session table yet"),
                    }
                }
            });
        }
    }
    store
}

/// Deletes expired sessions every `period`, for as long as the process runs (a failed round is logged and
/// the next one tried; the store's own loop would stop at the first error).
pub fn spawn_expired_deletion(store: PostgresStore, period: Duration) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = store.delete_expired().await {
                tracing::warn!(%error, "cannot delete expired sessions");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ops::identity::{Role, TenantScope};

    fn signed_in(at: DateTime<Utc>, lifetime: chrono::Duration) -> SignedIn {
        SignedIn {
            actor: Actor::user("s", "vera.viewer", vec![Role::Viewer], TenantScope::All),
            display_name: "Vera Viewer".into(),
            email: None,
            signed_in_at: at,
            ends_at: at + lifetime,
            id_token: "header.payload.signature".into(),
        }
    }

    #[test]
    fn a_session_ends_at_its_absolute_end_however_busy() {
        let at = Utc::now();
        let session = signed_in(at, chrono::Duration::hours(10));
        assert!(!session.has_ended(at + chrono::Duration::hours(9)));
        assert!(session.has_ended(at + chrono::Duration::hours(10)));
    }

    #[test]
    fn the_idle_end_shown_is_never_after_the_absolute_end() {
        let at = Utc::now();
        let session = signed_in(at, chrono::Duration::minutes(45));
        let viewer = session.viewer(Duration::from_secs(30 * 60), at + chrono::Duration::minutes(40));
        assert_eq!(viewer.idle_ends_at, session.ends_at);
        let viewer = session.viewer(Duration::from_secs(30 * 60), at);
        assert_eq!(viewer.idle_ends_at, at + chrono::Duration::minutes(30));
    }

    #[test]
    fn the_idle_expiry_is_renewed_once_a_minute_at_most_and_well_before_it_runs_out() {
        assert_eq!(renewal_interval(Duration::from_secs(30 * 60)), Duration::from_secs(60));
        assert_eq!(renewal_interval(Duration::from_secs(8 * 3600)), Duration::from_secs(60));
        assert_eq!(renewal_interval(Duration::from_secs(60)), Duration::from_secs(2));
    }

    #[test]
    fn the_id_token_kept_for_sign_out_never_shows_in_logs() {
        let logged = format!("{:?}", signed_in(Utc::now(), chrono::Duration::hours(1)));
        assert!(!logged.contains("signature"), "{logged}");
    }
}
