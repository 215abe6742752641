//! A small identity provider of the tests' own: a real HTTP server on a loopback port serving an OpenID
//! discovery document and a JWKS, with RSA keys the tests hold. It signs the tokens Keycloak cannot be
//! asked for on demand (expired ones, for another audience or issuer) and rotates its keys when told.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

/// A signing key and the id it is published under.
#[derive(Clone)]
pub struct Key {
    pub kid: &'static str,
    pub private: RsaPrivateKey,
}

impl Key {
    pub fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// A compact JWS (RS256) of `claims`, with this key's id in its header.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let signature = SigningKey::<Sha256>::new(self.private.clone()).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// Two keys for the whole test binary: RSA key generation is slow in a debug build.
pub fn keys() -> &'static (Key, Key) {
    static KEYS: OnceLock<(Key, Key)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        let one = RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key");
        let two = RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key");
        (Key { kid: "local-1", private: one }, Key { kid: "local-2", private: two })
    })
}

#[derive(Clone)]
struct Published {
    issuer: String,
    keys: Arc<RwLock<Vec<Value>>>,
}

pub struct LocalIdp {
    pub issuer: String,
    keys: Arc<RwLock<Vec<Value>>>,
    server: tokio::task::AbortHandle,
}

impl LocalIdp {
    /// Serves discovery and a JWKS publishing `published`.
    pub async fn start(published: &[&Key]) -> LocalIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://{address}/realms/local");
        let keys = Arc::new(RwLock::new(published.iter().map(|k| k.jwk()).collect()));
        let state = Published { issuer: issuer.clone(), keys: keys.clone() };
        let router = Router::new()
            .route("/realms/local/.well-known/openid-configuration", get(discovery))
            .route("/realms/local/certs", get(jwks))
            .with_state(state);
        let server = tokio::spawn(async move { axum::serve(listener, router).await }).abort_handle();
        LocalIdp { issuer, keys, server }
    }

    /// The provider goes down: its port stops answering.
    pub async fn stop(&self) {
        self.server.abort();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// Replaces the published keys (a key rotation).
    pub fn publish(&self, published: &[&Key]) {
        *self.keys.write().unwrap() = published.iter().map(|k| k.jwk()).collect();
    }

    /// Access-token claims as Keycloak issues them to opsdeck-internal, valid for five minutes.
    pub fn service_claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer,
            "aud": "opsdeck-api",
            "sub": "local-service-account",
            "azp": "local-service",
            "iat": now,
            "exp": now + 300,
            "scope": "profile ops.read",
            "realm_access": { "roles": ["service"] },
            "tenants": ["*"],
        })
    }
}

async fn discovery(State(state): State<Published>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
        "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
        "jwks_uri": format!("{issuer}/certs"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(state): State<Published>) -> Json<Value> {
    Json(json!({ "keys": state.keys.read().unwrap().clone() }))
}
