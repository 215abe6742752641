//! The identity provider, discovered (OpenID Connect Discovery) when first needed and kept.
//!
//! The console starts whether or not the provider answers: discovery is tried at start-up in the
//! background and again whenever sign-in or a service token needs it, at most once per
//! [`RETRY_PAUSE`], so an outage neither blocks start-up nor turns every request into a slow failed fetch.
//! Until discovery succeeds, sign-in says the provider is unavailable and the internal API answers 503.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreJsonWebKey};
use openidconnect::{
    ClientId, ClientSecret, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    ProviderMetadataWithLogout, RedirectUrl, UserInfoUrl,
};
use tokio::sync::{Mutex, RwLock};

use super::jwks::JwksCache;
use crate::secret::Secret;

/// How long after a failed discovery the next attempt may be made.
pub const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// Bound on one HTTP exchange with the provider.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one answer of [`Idp::reachable`] stands before a sign-in asks the provider again.
pub const REACHABLE_FOR: Duration = Duration::from_secs(5);
/// Bound on that question: a provider that takes longer is as good as down for a person signing in.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// openidconnect's client after discovery: authorization and token endpoints known, userinfo maybe.
pub type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// What discovery found, and the client built on it.
pub struct Discovered {
    pub client: Client,
    pub issuer: IssuerUrl,
    pub userinfo_endpoint: Option<UserInfoUrl>,
    pub end_session_endpoint: Option<EndSessionUrl>,
    pub jwks: JwksCache,
}

/// The provider did not answer discovery (or answered something unusable).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the identity provider at {issuer} is unavailable: {reason}")]
pub struct Unavailable {
    pub issuer: String,
    pub reason: String,
}

/// How the console is registered at the provider.
#[derive(Debug, Clone)]
pub struct Registration {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    /// `<public_url>/auth/callback`.
    pub redirect_url: String,
}

pub struct Idp {
    registration: Registration,
    /// Redirects are not followed: the provider's endpoints answer directly, and following a redirect
    /// from a token endpoint is how credentials leak (openidconnect's advice).
    http: reqwest::Client,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// Serialises discovery; holds when the last attempt failed.
    attempt: Mutex<Option<Instant>>,
    /// When the provider last answered (or not) whether it is up: see [`Idp::reachable`].
    probe: Mutex<Option<(Instant, bool)>>,
}

impl Idp {
    pub fn new(registration: Registration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .build()
            .unwrap_or_default();
        Idp { registration, http, discovered: RwLock::new(None), attempt: Mutex::new(None), probe: Mutex::new(None) }
    }

    pub fn issuer(&self) -> &str {
        &self.registration.issuer
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// The discovered provider, discovering it now if it has not been (and was not tried a moment ago).
    pub async fn discovered(&self) -> Result<Arc<Discovered>, Unavailable> {
        if let Some(discovered) = self.discovered.read().await.as_ref() {
            return Ok(discovered.clone());
        }
        let mut last_failure = self.attempt.lock().await;
        if let Some(discovered) = self.discovered.read().await.as_ref() {
            return Ok(discovered.clone());
        }
        if last_failure.is_some_and(|at| at.elapsed() < RETRY_PAUSE) {
            return Err(self.unavailable("it did not answer a moment ago"));
        }
        match self.discover().await {
            Ok(discovered) => {
                let discovered = Arc::new(discovered);
                *self.discovered.write().await = Some(discovered.clone());
                *last_failure = None;
                tracing::info!(issuer = self.issuer(), "identity provider discovered");
                Ok(discovered)
            }
            Err(reason) => {
                *last_failure = Some(Instant::now());
                tracing::warn!(issuer = self.issuer(), %reason, "identity provider discovery failed");
                Err(self.unavailable(&reason))
            }
        }
    }

    /// Whether the provider answers now. Discovery is kept for the life of the process, so without asking,
    /// a sign-in during a provider outage would send the browser to a provider that does not answer — the
    /// person would see the browser's connection error, not the console saying sign-in is unavailable.
    /// One quick request (the discovery document) at most every [`REACHABLE_FOR`].
    pub async fn reachable(&self) -> Result<(), Unavailable> {
        let mut last = self.probe.lock().await;
        let answered = match *last {
            Some((at, answered)) if at.elapsed() < REACHABLE_FOR => answered,
            _ => {
                let url = format!("{}/.well-known/openid-configuration", self.registration.issuer.trim_end_matches('/'));
                let answered =
                    self.http.get(&url).timeout(PROBE_TIMEOUT).send().await.is_ok_and(|r| r.status().is_success());
                if !answered {
                    tracing::warn!(issuer = self.issuer(), "identity provider does not answer; sign-in says it is unavailable");
                }
                *last = Some((Instant::now(), answered));
                answered
            }
        };
        if answered { Ok(()) } else { Err(self.unavailable("it does not answer")) }
    }

    fn unavailable(&self, reason: &str) -> Unavailable {
        Unavailable { issuer: self.registration.issuer.clone(), reason: reason.to_string() }
    }

    async fn discover(&self) -> Result<Discovered, String> {
        let registration = &self.registration;
        let issuer = IssuerUrl::new(registration.issuer.clone()).map_err(|e| format!("bad issuer URL: {e}"))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer.clone(), &self.http)
            .await
            .map_err(|e| error_chain(&e))?;
        let jwks = JwksCache::new(metadata.jwks_uri().clone(), self.http.clone(), metadata.jwks().clone());
        let userinfo_endpoint = metadata.userinfo_endpoint().cloned();
        let end_session_endpoint = metadata.additional_metadata().end_session_endpoint.clone();
        let redirect_url = RedirectUrl::new(registration.redirect_url.clone()).map_err(|e| format!("bad redirect URL: {e}"))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registration.client_id.clone()),
            Some(ClientSecret::new(registration.client_secret.expose().clone())),
        )
        .set_redirect_uri(redirect_url);
        Ok(Discovered { client, issuer, userinfo_endpoint, end_session_endpoint, jwks })
    }

    /// The signing key `kid` of the provider (see [`JwksCache::key`]).
    pub async fn signing_key(&self, kid: Option<&str>) -> Result<CoreJsonWebKey, KeyLookupError> {
        let discovered = self.discovered().await.map_err(KeyLookupError::Unavailable)?;
        discovered.jwks.key(kid).await.map_err(|e| match e {
            super::jwks::KeyError::Unknown => KeyLookupError::Unknown,
            super::jwks::KeyError::Unavailable(reason) => KeyLookupError::Unavailable(self.unavailable(&reason)),
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyLookupError {
    #[error("no such key")]
    Unknown,
    #[error(transparent)]
    Unavailable(Unavailable),
}

/// An error with its causes, without repeating one already in the text.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
