//! Identity at the edge: who is asking, proven before anything else runs.
//!
//! - People sign in with OpenID Connect (authorization code + PKCE + nonce, [`crate::routes::auth`]); their
//!   ID token is verified here and turned into an [`Actor`] by `ops::identity::claims`; the session that
//!   follows lives in PostgreSQL ([`session`]). Every console page requires one ([`gate`]).
//! - Services call the internal API with client-credentials access tokens ([`service`]), verified here
//!   against the provider's JWKS ([`jwt`], [`jwks`]).
//! - State-changing requests must come from the console's own origin ([`csrf`]).
//!
//! There is no other way in: no bypass, no test switch. Tests sign in through the real provider.

pub mod csrf;
pub mod gate;
pub mod idp;
pub mod jwks;
pub mod jwt;
pub mod rate_limit;
pub mod service;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{ClaimsVerificationError, ClientId, ClientSecret, Nonce, SignatureVerificationError};
use ops::identity::{Actor, ClaimPaths};

use crate::config::{Config, ConfigError};
use idp::{Idp, KeyLookupError, Registration, Unavailable};
use jwt::{Expectations, TokenRefusal};

/// Everything identity needs, shared by every request. Cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    idp: Idp,
    settings: Settings,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `http://127.0.0.1:3000`: redirect base, and the one origin state-changing requests may come from.
    pub public_origin: String,
    pub claim_paths: ClaimPaths,
    pub api_audience: String,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    pub cookie_secure: bool,
}

/// Why a service's bearer token was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceTokenError {
    /// The token failed verification (401).
    #[error("{refusal}")]
    Refused { refusal: TokenRefusal, claimed_client: Option<String> },
    /// A genuine token, but not of a service this console knows (403).
    #[error("{0}")]
    NotAService(ops::identity::ClaimsError),
    /// The provider's keys cannot be had: nothing can be verified now (503).
    #[error(transparent)]
    Unavailable(Unavailable),
}

impl Auth {
    /// From the configuration; fails without the client secret, since nobody could sign in.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let client_secret = config.oidc_client_secret.clone().ok_or_else(|| ConfigError::Value {
            key: "oidc_client_secret",
            message: "is not set (OPSDECK_OIDC_CLIENT_SECRET): nobody could sign in".to_string(),
        })?;
        let public_origin = config.public_origin();
        let settings = Settings {
            claim_paths: ClaimPaths {
                roles: config.oidc_roles_claim.clone(),
                tenants: config.oidc_tenants_claim.clone(),
            },
            api_audience: config.api_audience.clone(),
            idle_timeout: Duration::from_secs(u64::from(config.session_idle_minutes) * 60),
            absolute_timeout: Duration::from_secs(u64::from(config.session_absolute_minutes) * 60),
            cookie_secure: config.session_cookie_secure(),
            public_origin: public_origin.clone(),
        };
        let idp = Idp::new(Registration {
            issuer: config.oidc_issuer.clone(),
            client_id: config.oidc_client_id.clone(),
            client_secret,
            redirect_url: format!("{public_origin}/auth/callback"),
        });
        Ok(Auth(Arc::new(Inner { idp, settings })))
    }

    pub fn idp(&self) -> &Idp {
        &self.0.idp
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// Discovers the provider now, in the background, so the first sign-in does not wait for it.
    pub fn warm_up(&self) {
        let auth = self.clone();
        tokio::spawn(async move {
            let _ = auth.idp().discovered().await;
        });
    }

    /// Verifies an ID token from the token endpoint: signature (by the provider's current keys, refetched
    /// once for an unknown key id), issuer, audience (this client), expiry, and the nonce this sign-in
    /// sent. Returns its claims as JSON.
    pub async fn verify_id_token(&self, id_token: &CoreIdToken, nonce: &Nonce) -> Result<serde_json::Value, String> {
        let discovered = self.idp().discovered().await.map_err(|e| e.to_string())?;
        let registration = self.idp().registration();
        let verifier_for = |keys| {
            CoreIdTokenVerifier::new_confidential_client(
                ClientId::new(registration.client_id.clone()),
                ClientSecret::new(registration.client_secret.expose().clone()),
                discovered.issuer.clone(),
                keys,
            )
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
        };
        let first = id_token.claims(&verifier_for(discovered.jwks.current().await), nonce).map(|_| ());
        let outcome = match first {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // A key the cache does not know yet: the provider may have rotated its keys.
                let kid = key_id_of(&id_token.to_string());
                match discovered.jwks.refetch_for_unknown(kid.as_deref()).await {
                    Ok(_) => id_token.claims(&verifier_for(discovered.jwks.current().await), nonce).map(|_| ()),
                    Err(_) => first,
                }
            }
            other => other,
        };
        outcome.map_err(|e| idp::error_chain(&e))?;
        jwt::payload_of_verified(&id_token.to_string()).ok_or_else(|| "the ID token payload is not JSON".to_string())
    }

    /// Verifies a service's bearer token and returns the service as an actor.
    pub async fn verify_service_token(&self, token: &str) -> Result<Actor, ServiceTokenError> {
        let refused = |refusal, claimed_client| ServiceTokenError::Refused { refusal, claimed_client };
        let unverified = jwt::parse(token).map_err(|r| refused(r, None))?;
        let claimed = unverified.claimed_client();
        unverified.algorithm().map_err(|r| refused(r, claimed.clone()))?;
        let key = match self.idp().signing_key(unverified.header.kid.as_deref()).await {
            Ok(key) => key,
            Err(KeyLookupError::Unknown) => return Err(refused(TokenRefusal::UnknownKey, claimed)),
            Err(KeyLookupError::Unavailable(e)) => return Err(ServiceTokenError::Unavailable(e)),
        };
        let expected = Expectations { issuer: self.idp().issuer().to_string(), audience: self.settings().api_audience.clone() };
        let claims = unverified
            .verify(&key)
            .and_then(|verified| verified.check(&expected, chrono::Utc::now().timestamp()))
            .map_err(|r| refused(r, claimed))?;
        ops::identity::claims::service(&claims, &self.settings().claim_paths).map_err(ServiceTokenError::NotAService)
    }
}

/// The key id (`kid`) in a token's header, read without trusting it (only to pick a key).
fn key_id_of(token: &str) -> Option<String> {
    jwt::parse(token).ok().and_then(|parsed| parsed.header.kid)
}
