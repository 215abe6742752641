//! Bearer access tokens (compact JWS) as the internal API receives them: parsed, their signature checked
//! with a key from the identity provider's JWKS, their claims checked against what this console expects.
//!
//! The order matters: nothing in a token is believed before its signature is; the claims (issuer,
//! audience, lifetime) are checked only then. Each way a token can fail is a [`TokenRefusal`] with a
//! stable code, because the audit log says why a service was turned away. The token itself is never
//! logged, stored or echoed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey as _;
use serde::Deserialize;
use serde_json::Value;

/// Clock skew tolerated between the identity provider and this console, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;

/// The signature algorithms accepted: RSA, as Keycloak signs by default. Never `none`, never a MAC (a
/// MAC "verified" with a public key is the classic forgery).
const ALLOWED_ALGORITHMS: [&str; 1] = ["RS256"];

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("signature algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("signed with a key the identity provider does not publish")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("wrong issuer: {found:?}")]
    WrongIssuer { found: String },
    #[error("wrong audience: {found}")]
    WrongAudience { found: String },
    #[error("expired at {at} (unix time)")]
    Expired { at: i64 },
    #[error("not valid before {at} (unix time)")]
    NotYetValid { at: i64 },
}

impl TokenRefusal {
    /// A stable name for the audit log and API answers.
    pub fn code(&self) -> &'static str {
        match self {
            TokenRefusal::Malformed(_) => "MALFORMED",
            TokenRefusal::Algorithm(_) => "ALGORITHM",
            TokenRefusal::UnknownKey => "UNKNOWN_KEY",
            TokenRefusal::BadSignature => "BAD_SIGNATURE",
            TokenRefusal::WrongIssuer { .. } => "WRONG_ISSUER",
            TokenRefusal::WrongAudience { .. } => "WRONG_AUDIENCE",
            TokenRefusal::Expired { .. } => "EXPIRED",
            TokenRefusal::NotYetValid { .. } => "NOT_YET_VALID",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

/// A token taken apart, nothing in it verified yet.
#[derive(Debug, Clone)]
pub struct Unverified<'t> {
    pub header: Header,
    signing_input: &'t str,
    signature: Vec<u8>,
    claims: Value,
}

fn decode_part(part: &str) -> Result<Vec<u8>, TokenRefusal> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| TokenRefusal::Malformed("a part is not base64url"))
}

/// Splits a compact JWS into header, payload and signature. Only the header's `alg` and `kid` are read
/// before the signature is checked; the payload must be a JSON object.
pub fn parse(token: &str) -> Result<Unverified<'_>, TokenRefusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRefusal::Malformed("not three dot-separated parts"));
    };
    let header: Header =
        serde_json::from_slice(&decode_part(header)?).map_err(|_| TokenRefusal::Malformed("the header is not JSON"))?;
    let claims: Value =
        serde_json::from_slice(&decode_part(payload)?).map_err(|_| TokenRefusal::Malformed("the payload is not JSON"))?;
    if !claims.is_object() {
        return Err(TokenRefusal::Malformed("the payload is not a JSON object"));
    }
    let signing_input = &token[..token.len() - signature.len() - 1];
    Ok(Unverified { header, signing_input, signature: decode_part(signature)?, claims })
}

impl Unverified<'_> {
    /// The algorithm, if it is one this console accepts.
    pub fn algorithm(&self) -> Result<CoreJwsSigningAlgorithm, TokenRefusal> {
        if !ALLOWED_ALGORITHMS.contains(&self.header.alg.as_str()) {
            return Err(TokenRefusal::Algorithm(self.header.alg.chars().take(20).collect()));
        }
        serde_json::from_value(Value::String(self.header.alg.clone()))
            .map_err(|_| TokenRefusal::Algorithm(self.header.alg.clone()))
    }

    /// Checks the signature with `key`; on success the claims can be believed.
    pub fn verify(self, key: &CoreJsonWebKey) -> Result<Verified, TokenRefusal> {
        let algorithm = self.algorithm()?;
        key.verify_signature(&algorithm, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| TokenRefusal::BadSignature)?;
        Ok(Verified { claims: self.claims })
    }

    /// What the token says about its sender, *unverified*: for the audit line of a refusal, marked so.
    pub fn claimed_client(&self) -> Option<String> {
        ["azp", "client_id"]
            .iter()
            .find_map(|name| self.claims.get(*name).and_then(Value::as_str))
            .map(ops::access::echo)
    }
}

/// A token whose signature checked out; its claims are still to be checked against expectations.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Value,
}

/// What an access token for this console must say.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub issuer: String,
    pub audience: String,
}

impl Verified {
    /// Issuer, audience (a string, or a list containing it), expiry (required) and not-before, with
    /// [`LEEWAY_SECONDS`] of clock skew, at unix time `now`.
    pub fn check(self, expected: &Expectations, now: i64) -> Result<Value, TokenRefusal> {
        let claims = self.claims;
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if issuer != expected.issuer {
            return Err(TokenRefusal::WrongIssuer { found: ops::access::echo(issuer) });
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(one)) => *one == expected.audience,
            Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(expected.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            let found = claims.get("aud").map(Value::to_string).unwrap_or_else(|| "none".to_string());
            return Err(TokenRefusal::WrongAudience { found: ops::access::echo(&found) });
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or(TokenRefusal::Malformed("no expiry (exp)"))?;
        if exp + LEEWAY_SECONDS <= now {
            return Err(TokenRefusal::Expired { at: exp });
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64) {
            if nbf - LEEWAY_SECONDS > now {
                return Err(TokenRefusal::NotYetValid { at: nbf });
            }
        }
        Ok(claims)
    }
}

/// The payload of a token this console has just verified itself (an ID token, after openidconnect checked
/// it): its claims as JSON, for the configurable claim paths.
pub fn payload_of_verified(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&decode_part(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn token(header: Value, claims: Value) -> String {
        format!("{}.{}.{}", b64(&header), b64(&claims), URL_SAFE_NO_PAD.encode(b"sig"))
    }

    const NOW: i64 = 1_800_000_000;

    fn expected() -> Expectations {
        Expectations { issuer: "http://idp/realms/opsdeck".into(), audience: "opsdeck-api".into() }
    }

    fn claims(changes: Value) -> Value {
        let mut claims = json!({ "iss": "http://idp/realms/opsdeck", "aud": "opsdeck-api", "exp": NOW + 300, "azp": "svc" });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }

    fn check(changes: Value) -> Result<Value, TokenRefusal> {
        Verified { claims: claims(changes) }.check(&expected(), NOW)
    }

    #[test]
    fn a_token_is_taken_apart_without_believing_it() {
        let text = token(json!({ "alg": "RS256", "kid": "k1" }), claims(json!({})));
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.header.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.algorithm().unwrap(), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        assert_eq!(parsed.claimed_client().as_deref(), Some("svc"));
        assert_eq!(parsed.signing_input, &text[..text.rfind('.').unwrap()]);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert_eq!(parse("abc").unwrap_err().code(), "MALFORMED");
        assert_eq!(parse("a.b.c.d").unwrap_err().code(), "MALFORMED");
        assert_eq!(parse("!!.e30.c2ln").unwrap_err().code(), "MALFORMED");
        let array_payload = format!("{}.{}.c2ln", b64(&json!({"alg": "RS256"})), b64(&json!([1])));
        assert_eq!(parse(&array_payload).unwrap_err(), TokenRefusal::Malformed("the payload is not a JSON object"));
    }

    #[test]
    fn none_and_mac_algorithms_are_refused() {
        for alg in ["none", "HS256", "ES256"] {
            let text = token(json!({ "alg": alg }), claims(json!({})));
            assert_eq!(parse(&text).unwrap().algorithm().unwrap_err(), TokenRefusal::Algorithm(alg.into()), "{alg}");
        }
    }

    #[test]
    fn issuer_audience_and_lifetime_are_checked() {
        assert!(check(json!({})).is_ok());
        assert_eq!(check(json!({ "iss": "http://evil" })).unwrap_err().code(), "WRONG_ISSUER");
        assert_eq!(check(json!({ "iss": null })).unwrap_err().code(), "WRONG_ISSUER");
        assert_eq!(check(json!({ "aud": "account" })).unwrap_err().code(), "WRONG_AUDIENCE");
        assert_eq!(check(json!({ "aud": null })).unwrap_err().code(), "WRONG_AUDIENCE");
        assert!(check(json!({ "aud": ["account", "opsdeck-api"] })).is_ok(), "a list naming the audience is accepted");
        assert_eq!(check(json!({ "exp": NOW - 60 })).unwrap_err(), TokenRefusal::Expired { at: NOW - 60 });
        assert_eq!(check(json!({ "exp": null })).unwrap_err().code(), "MALFORMED");
        assert_eq!(check(json!({ "nbf": NOW + 120 })).unwrap_err().code(), "NOT_YET_VALID");
    }

    #[test]
    fn a_little_clock_skew_is_tolerated() {
        assert!(check(json!({ "exp": NOW - LEEWAY_SECONDS + 1 })).is_ok());
        assert!(check(json!({ "exp": NOW - LEEWAY_SECONDS })).is_err());
        assert!(check(json!({ "nbf": NOW + LEEWAY_SECONDS })).is_ok());
    }
}
