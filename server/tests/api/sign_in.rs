//! Signing in and out through the stack's Keycloak (its real login form, driven over HTTP), sessions in
//! PostgreSQL, and the gate in front of every page.

use sqlx::PgPool;

use crate::helpers::{
    audit_lines, idp_config, keycloak_issuer, location, spawn_app, spawn_app_sharing, spawn_app_with_idp, CONSOLE_URL,
};

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unauthenticated_page_request_is_sent_to_sign_in_with_the_page_it_wanted(pool: PgPool) {
    let app = spawn_app(pool).await;
    for (wanted, next) in [
        ("/orders?tenant=a&q=SO-1", "%2Forders%3Ftenant%3Da%26q%3DSO-1"),
        ("/me", "%2Fme"),
        // Unknown pages too: whether a page exists is not told to strangers.
        ("/incidents", "%2Fincidents"),
    ] {
        let response = app.get(wanted).await;
        assert_eq!(response.status().as_u16(), 303, "{wanted}");
        assert_eq!(location(&response), format!("/auth/login?next={next}"), "{wanted}");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unauthenticated_state_changing_request_is_401(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.post_form("/orders", &[("q", "x")], Some(CONSOLE_URL)).await;
    assert_eq!(response.status().as_u16(), 401);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn sign_in_says_the_identity_provider_is_unavailable_when_it_does_not_answer(pool: PgPool) {
    let app = spawn_app(pool).await; // its issuer is a closed port
    let response = app.get("/auth/login?next=%2Forders").await;
    assert_eq!(response.status().as_u16(), 503);
    let body = response.text().await.unwrap();
    assert!(body.contains("Sign-in is unavailable"), "{body}");
    assert!(body.contains(r#"href="/auth/login?next=%2Forders""#), "a way to try again: {body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_demo_user_signs_in_through_keycloaks_login_form_and_the_sign_in_is_audited(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = spawn_app_with_idp(pool.clone()).await;

    let callback = app.sign_in_to("vera.viewer", "/me").await;

    assert_eq!(callback.status().as_u16(), 303);
    assert_eq!(location(&callback), "/me");
    let cookie = callback
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("opsdeck_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "the console is on http here, so the cookie cannot be Secure: {cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");

    let (status, body) = app.page("/me").await;
    assert_eq!(status, 200, "{body}");
    for text in ["Vera Viewer", "vera.viewer", "vera.viewer@opsdeck.example", "viewer", "Acme Corporation (acme)", "READ"] {
        assert!(body.contains(text), "/me shows {text}");
    }
    assert!(!body.contains("Globex"), "only her tenants");

    let lines = audit_lines(&pool).await;
    let sign_in = lines.iter().find(|l| l.action == "SIGN_IN").expect("a SIGN_IN line");
    assert_eq!((sign_in.outcome.as_str(), sign_in.actor_name.as_str(), sign_in.actor_kind.as_str()), ("SUCCEEDED", "vera.viewer", "USER"));
    assert_eq!(sign_in.detail["roles"], serde_json::json!(["viewer"]));
    assert_eq!(sign_in.detail["tenants"], serde_json::json!([platform::tenants::ACME]));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_session_id_is_replaced_at_sign_in(pool: PgPool) {
    let app = spawn_app_with_idp(pool).await;
    let started = app.get("/auth/login?next=%2Fme").await;
    let before = session_cookie(&started).expect("a session for the sign-in in flight");

    let callback = app.sign_in_to("oscar.operator", "/me").await;
    let after = session_cookie(&callback).expect("the signed-in session");

    assert_ne!(before, after);
    // The id handed out before sign-in is worth nothing after it.
    let stranger = app.fresh_browser();
    let response = stranger
        .client
        .get(format!("{}/me", app.address))
        .header("cookie", format!("opsdeck_session={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|v| {
        let text = v.to_str().ok()?;
        text.strip_prefix("opsdeck_session=").map(|rest| rest.split(';').next().unwrap().to_string())
    })
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_session_survives_a_server_restart(pool: PgPool) {
    let first = spawn_app_with_idp(pool.clone()).await;
    first.sign_in("ada.approver").await;
    first.stop().await;

    let second = spawn_app_sharing(pool, idp_config(), first.cookies.clone()).await;

    let (status, body) = second.page("/me").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ada.approver") && body.contains("approver"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_session_left_idle_past_its_timeout_is_over(pool: PgPool) {
    let app = spawn_app_with_idp(pool.clone()).await;
    app.sign_in("gwen.globex").await;
    let response = app.get("/me").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store", "a personal page is not cached");

    // As if the idle timeout had passed since the last request: the store's expiry is what enforces it.
    sqlx::query("update tower_sessions.session set expiry_date = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();

    let response = app.get("/me").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/auth/login?next=%2Fme");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn requests_renew_the_idle_timeout_without_writing_the_session_each_time(pool: PgPool) {
    // A one-minute idle timeout: renewed at most every two seconds.
    let mut config = idp_config();
    config.session_idle_minutes = 1;
    let app = crate::helpers::spawn_app_with(pool.clone(), config).await;
    app.sign_in("gwen.globex").await;
    let expiry = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>("select expiry_date from tower_sessions.session")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let signed_in = expiry().await;
    assert_eq!(app.get("/me").await.status().as_u16(), 200);
    assert_eq!(expiry().await, signed_in, "a request right after the last renewal does not write the session");

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.get("/me").await.status().as_u16(), 200);
    let renewed = expiry().await;
    assert!(renewed > signed_in, "{signed_in} → {renewed}");
    let idle = renewed - chrono::Utc::now();
    assert!(idle > chrono::Duration::seconds(55) && idle <= chrono::Duration::minutes(1), "{idle}");
    assert_eq!(app.get("/me").await.status().as_u16(), 200);
    assert_eq!(expiry().await, renewed, "renewed once, not on every request");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn signing_out_ends_the_console_session_and_the_identity_providers(pool: PgPool) {
    let app = spawn_app_with_idp(pool.clone()).await;
    app.sign_in("cora.comms").await;

    let response = app.post_form("/auth/logout", &[], Some(CONSOLE_URL)).await;

    assert_eq!(response.status().as_u16(), 303);
    let end_session = location(&response);
    assert!(end_session.starts_with(&format!("{}/protocol/openid-connect/logout?", keycloak_issuer())), "{end_session}");
    assert!(end_session.contains("id_token_hint="), "{end_session}");
    assert!(end_session.contains("post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fauth%2Fsigned-out"), "{end_session}");
    // The console session is gone at once.
    assert_eq!(app.get("/me").await.status().as_u16(), 303);
    // Keycloak accepts the hint and sends the browser back without asking.
    let back = app.client.get(&end_session).send().await.unwrap();
    assert_eq!(location(&back), format!("{CONSOLE_URL}/auth/signed-out"));
    let (status, body) = app.page("/auth/signed-out").await;
    assert_eq!(status, 200);
    assert!(body.contains("You have signed out"));
    // And Keycloak's session is over: signing in again shows its login form instead of a silent redirect.
    let again = app.get("/auth/login?next=%2Fme").await;
    let login_page = app.client.get(location(&again)).send().await.unwrap();
    assert_eq!(login_page.status().as_u16(), 200, "Keycloak asks for credentials again");

    let lines = audit_lines(&pool).await;
    let sign_out = lines.iter().find(|l| l.action == "SIGN_OUT").expect("a SIGN_OUT line");
    assert_eq!((sign_out.actor_name.as_str(), sign_out.reason.as_deref()), ("cora.comms", Some("signed out")));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_callback_this_browser_did_not_start_is_refused_and_audited(pool: PgPool) {
    let app = spawn_app_with_idp(pool.clone()).await;

    let (status, body) = app.page("/auth/callback?state=forged&code=stolen").await;

    assert_eq!(status, 400);
    assert!(body.contains("not one this browser started"), "{body}");
    let lines = audit_lines(&pool).await;
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].action.as_str(), lines[0].outcome.as_str(), lines[0].actor_subject.as_str()), ("SIGN_IN", "FAILED", "unidentified"));
    assert!(lines[0].reason.as_deref().unwrap().contains("state matches no sign-in"), "{:?}", lines[0].reason);
    assert!(!format!("{:?}", lines[0]).contains("stolen"), "the code is not recorded");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_sign_in_the_identity_provider_refused_is_audited_with_its_answer(pool: PgPool) {
    let app = spawn_app_with_idp(pool.clone()).await;
    let started = app.get("/auth/login?next=%2Fme").await;
    let authorize = reqwest::Url::parse(&location(&started)).unwrap();
    let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();

    let (status, body) = app.page(&format!("/auth/callback?state={state}&error=access_denied&error_description=user+cancelled")).await;

    assert_eq!(status, 401);
    assert!(body.contains("did not sign you in"), "{body}");
    let lines = audit_lines(&pool).await;
    assert_eq!(lines[0].reason.as_deref(), Some("the identity provider answered access_denied: user cancelled"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn signing_in_after_sign_in_goes_straight_to_the_page(pool: PgPool) {
    let app = spawn_app_with_idp(pool).await;
    app.sign_in("adam.admin").await;
    let response = app.get("/auth/login?next=%2Forders").await;
    assert_eq!(location(&response), "/orders");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_login_redirect_never_leads_off_the_console(pool: PgPool) {
    let app = spawn_app_with_idp(pool).await;
    let callback = app.sign_in_to("adam.admin", "https://evil.example/phish").await;
    assert_eq!(location(&callback), "/orders");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn sign_in_says_the_identity_provider_is_unavailable_when_it_stops_answering_after_discovery(pool: PgPool) {
    let (key, _) = crate::local_idp::keys();
    let idp = crate::local_idp::LocalIdp::start(&[key]).await;
    let mut config = crate::helpers::test_config();
    config.oidc_issuer = idp.issuer.clone();
    let app = crate::helpers::spawn_app_with(pool, config).await;
    let response = app.get("/auth/login?next=%2Forders").await;
    assert_eq!(response.status().as_u16(), 303, "discovered: off to the provider");
    assert!(location(&response).starts_with(&idp.issuer));

    idp.stop().await;
    tokio::time::sleep(server::auth::idp::REACHABLE_FOR + std::time::Duration::from_millis(100)).await;
    let response = app.fresh_browser().get("/auth/login?next=%2Forders").await;
    assert_eq!(response.status().as_u16(), 503, "not a redirect to a provider that does not answer");
    assert!(response.text().await.unwrap().contains("Sign-in is unavailable"));
}
