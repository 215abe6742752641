//! The access suite's gaps (issue 13 item 3), each attempt refused and audited: another tenant reached
//! by editing the hidden fields and ids of forms; a person approving their own repair by every path the
//! console and the internal API offer; tokens signed with `alg: none` or a MAC (the classic forgery with
//! the provider's public key as the MAC secret); a session past its absolute lifetime.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ops::identity::Actor;
use ops::repair::{set_policy, PolicyForSet, PolicyForm};
use platform::tenants::{ACME, GLOBEX};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::sha2::{Digest, Sha256};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{audit_lines, idp_config, incident_of, location, resume_form, spawn_app_with, stuck_order, test_config};
use crate::hostile::footprint;
use crate::local_idp::{keys, LocalIdp};

async fn refusals_by(pool: &PgPool, name: &str) -> usize {
    audit_lines(pool).await.into_iter().filter(|l| l.outcome == "REFUSED" && l.actor_name == name).count()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_person_of_one_tenant_cannot_reach_another_by_editing_hidden_fields_and_ids_in_forms(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let acme_order = stuck_order(&pool, ACME, "ESC-A").await.to_string();
    let globex_order = stuck_order(&pool, GLOBEX, "ESC-G").await.to_string();
    let acme_incident = incident_of(&pool, ACME).await;
    let globex_incident = incident_of(&pool, GLOBEX).await;
    let mut config = idp_config();
    config.engine_url = platform::testing::engine_url();
    let app = spawn_app_with(pool.clone(), config).await;
    app.sign_in("gwen.globex").await; // operator of globex only
    let (acme, globex) = (ACME.to_string(), GLOBEX.to_string());

    let attempts: Vec<(&str, String, Vec<(&str, &str)>)> = vec![
        ("the tenant field changed to acme", "/repairs".into(), resume_form(&acme, &acme_order, &acme_incident, "escape-esc-1-key")),
        ("her tenant, acme's order", "/repairs".into(), resume_form(&globex, &acme_order, &globex_incident, "escape-esc-2-key")),
        ("her order, acme's incident", "/repairs".into(), resume_form(&globex, &globex_order, &acme_incident, "escape-esc-3-key")),
        ("a note on acme's incident", format!("/incidents/{acme_incident}/notes"), vec![("text", "looking into it"), ("entity_ids", "")]),
        ("a note about acme's order on her incident", format!("/incidents/{globex_incident}/notes"), vec![("text", "see this"), ("entity_ids", acme_order.as_str())]),
        ("an incident declared for acme", "/incidents/new".into(), vec![("severity", "SEV3"), ("detected_by", "OPERATOR"), ("summary", "declared for another tenant"), ("tenants", acme.as_str())]),
        ("acme's incident's severity", format!("/incidents/{acme_incident}/severity"), vec![("severity", "SEV1"), ("reason", "raising someone else's incident")]),
    ];
    for (what, path, fields) in &attempts {
        let before = footprint(&pool).await;
        let audited = refusals_by(&pool, "gwen.globex").await;
        let (status, body) = app.submit(path, fields).await;
        // Another tenant's entity named under her own tenant is simply not there (404) or not on her
        // incident (422): nothing of it exists for her, so nothing is refused; naming the other tenant
        // (or its incident) is refused, and that refusal is audited.
        assert!(matches!(status, 403 | 404 | 422), "{what}: {status} {body:.300}");
        let refused = if status == 403 { 1 } else { 0 };
        assert_eq!(refusals_by(&pool, "gwen.globex").await - audited, refused, "{what}: {status}, audited as refused");
        assert_eq!(footprint(&pool).await, before, "{what}: nothing written");
        assert!(!body.contains("Acme Corporation"), "{what}: nothing of acme shown");
    }
    // Her own tenant works through the same form.
    let (status, body) = app.submit("/repairs", &resume_form(&globex, &globex_order, &globex_incident, "escape-esc-ok-key")).await;
    assert_eq!(status, 303, "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn nobody_approves_their_own_repair_by_any_path(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let form = PolicyForm {
        tenant: ACME.to_string(),
        repair_type: "resume-orchestration".into(),
        min_risk: "HIGH".into(),
        reason: "acme wants a second person on every resume".into(),
    };
    set_policy(&pool, &Actor::system("test"), &PolicyForSet::parse(&form).unwrap()).await.unwrap();
    let order = stuck_order(&pool, ACME, "SELF-1").await.to_string();
    let incident = incident_of(&pool, ACME).await;
    let mut config = idp_config();
    config.engine_url = platform::testing::engine_url();
    let app = spawn_app_with(pool.clone(), config).await;
    app.sign_in("olga.opsapprover").await; // operator and approver
    let acme = ACME.to_string();
    let (status, repair) = app.submit("/repairs", &resume_form(&acme, &order, &incident, "escape-self-1-key")).await;
    assert_eq!(status, 303, "{repair}");
    let hash: String = sqlx::query_scalar("select proposed_change_hash from ops.repair_command_log").fetch_one(&pool).await.unwrap();
    let status_of = || async { sqlx::query_scalar::<_, String>("select status from ops.repair_command_log").fetch_one(&pool).await.unwrap() };

    // The decision form, as shown to an approver, posted by the requester — with the fields an attacker
    // might add to speak for someone else.
    for fields in [
        vec![("decision", "APPROVE"), ("comment", "looks fine to me"), ("proposed_change_hash", hash.as_str())],
        vec![("decision", "APPROVE"), ("comment", ""), ("proposed_change_hash", hash.as_str()), ("actor", "ada.approver"), ("approver", "ada.approver")],
    ] {
        let (status, body) = app.submit(&format!("{repair}/decision"), &fields).await;
        assert!(matches!(status, 403 | 409), "{status}: {body:.300}");
        assert_eq!(status_of().await, "REQUESTED");
    }
    // Executing without an approval is refused too (the confirm form is the executor's, not an approval).
    let (status, _) = app.submit(&format!("{repair}/execute"), &[("confirm_hash", &hash)]).await;
    assert!(matches!(status, 403 | 409), "{status}");
    assert_eq!(status_of().await, "REQUESTED");
    assert!(refusals_by(&pool, "olga.opsapprover").await >= 3, "each attempt audited");

    // The internal API has no way to decide a repair at all: a service never approves.
    let (_, document) = app.page("/internal/v1/openapi.json").await;
    let document: Value = serde_json::from_str(&document).unwrap();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().all(|p| !p.contains("decision") && !p.contains("approv")), "{paths:?}");
    // Nor by a route not in the document.
    let (status, _) = app.submit(&format!("/internal/v1{repair}/decision"), &[("decision", "APPROVE")]).await;
    assert!(matches!(status, 401 | 404 | 405), "{status}");
    assert_eq!(status_of().await, "REQUESTED");
}

fn hs256(secret: &[u8], input: &str) -> Vec<u8> {
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(input.as_bytes()).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

fn unsigned(alg: &str, claims: &Value, kid: &str) -> String {
    let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
    format!("{}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()), URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap()))
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn tokens_signed_with_alg_none_or_a_mac_are_refused_and_audited(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let mut config = test_config();
    config.oidc_issuer = idp.issuer.clone();
    let app = spawn_app_with(pool.clone(), config).await;
    let claims = idp.service_claims();
    let public_pem = key.private.to_public_key().to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();

    let none = unsigned("none", &claims, key.kid);
    let forged = [
        ("alg none, no signature", format!("{none}.")),
        ("alg None, no signature", format!("{}.", unsigned("None", &claims, key.kid))),
        ("HS256 keyed with the provider's public key", {
            let input = unsigned("HS256", &claims, key.kid);
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(hs256(public_pem.as_bytes(), &input)))
        }),
        ("HS256 keyed with a guess", {
            let input = unsigned("HS256", &claims, key.kid);
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(hs256(b"secret", &input)))
        }),
        ("RS256 header, none signature", format!("{}.", unsigned("RS256", &claims, key.kid))),
    ];
    for (what, token) in &forged {
        let response = app.client.get(format!("{}/internal/v1/whoami", app.address)).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{what}");
        let line = audit_lines(&pool).await.into_iter().last().expect("an audit line");
        assert_eq!((line.action.as_str(), line.outcome.as_str()), ("SERVICE_TOKEN", "REFUSED"), "{what}");
        assert!(matches!(line.detail["why"].as_str(), Some("ALGORITHM" | "BAD_SIGNATURE" | "MALFORMED")), "{what}: {:?}", line.detail);
    }
    assert_eq!(audit_lines(&pool).await.len(), forged.len());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_session_past_its_absolute_lifetime_is_over_however_busy_and_the_end_is_audited(pool: PgPool) {
    let mut config = idp_config();
    config.session_absolute_minutes = 0; // every session is past its absolute end at its next request
    let app = spawn_app_with(pool.clone(), config).await;
    let callback = app.sign_in_to("gwen.globex", "/me").await;
    assert_eq!(callback.status().as_u16(), 303);

    let response = app.get("/me").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/auth/login?next=%2Fme");
    let ended = audit_lines(&pool).await.into_iter().filter(|l| l.reason.as_deref() == Some("the session reached its absolute lifetime")).count();
    assert_eq!(ended, 1);
    // The same cookie is worth nothing afterwards.
    assert_eq!(app.get("/me").await.status().as_u16(), 303);
}
