//! Spawning the app, signing in through the real identity provider, and the platform fixtures the tests
//! look at.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use platform::command::{
    accept_quote, apply_order_command, apply_quote_command, create_quote, CommandContext, QuoteForCreate,
    QuoteLineInput,
};
use platform::ids::{OrderId, TenantId};
use platform::order::OrderCommand;
use platform::quote::QuoteCommand;
use server::secret::Secret;
use server::{Application, Config};
use sqlx::PgPool;

/// The public URL test apps are configured with. Keycloak's dev realm accepts redirect URIs under it, so
/// the real sign-in works; the app itself listens on a port of its own, and [`TestApp::sign_in`] takes the
/// provider's redirect to this URL to the app, as a reverse proxy in front of a console would.
pub const CONSOLE_URL: &str = "http://127.0.0.1:3000";
/// The dev realm's demo users' password (`end2end/keycloak/opsdeck-realm.json`; not a secret).
pub const DEMO_PASSWORD: &str = "opsdeck-demo";

pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

pub fn keycloak_issuer() -> String {
    env_or("OPSDECK_OIDC_ISSUER", "http://127.0.0.1:58180/realms/opsdeck")
}

pub struct TestApp {
    pub address: String,
    /// Keeps cookies (the console's session, Keycloak's), follows no redirect by itself.
    pub client: reqwest::Client,
    pub cookies: Arc<reqwest::cookie::Jar>,
    server: tokio::task::AbortHandle,
}

impl TestApp {
    /// Another browser on the same app: no cookies.
    pub fn fresh_browser(&self) -> TestApp {
        let cookies = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(cookies.clone())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        TestApp { address: self.address.clone(), client, cookies, server: self.server.clone() }
    }

    /// Stops serving (the process "restarts" when another app is spawned on the same database).
    pub async fn stop(&self) {
        self.server.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client.get(format!("{}{}", self.address, path_and_query)).send().await.expect("the app answers")
    }

    /// The status and body of a page.
    pub async fn page(&self, path_and_query: &str) -> (u16, String) {
        let response = self.get(path_and_query).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("a text body"))
    }

    /// A form POST as a browser sends it from a page at `origin` (`None`: without Origin and Referer).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{}", self.address, path)).form(fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.expect("the app answers")
    }

    /// A console form posted from one of its pages: the status, and where a 303 sends the browser (the
    /// page's HTML otherwise).
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let response = self.post_form(path, fields, Some(CONSOLE_URL)).await;
        let status = response.status().as_u16();
        let body = if status == 303 { location(&response) } else { response.text().await.expect("a body") };
        (status, body)
    }

    /// Signs `username` in the way a browser does: the console's /auth/login sends it to Keycloak's login
    /// page, the form there is filled in and posted, and Keycloak's redirect back (to [`CONSOLE_URL`]) is
    /// followed to this app's /auth/callback. Returns the callback's response (a redirect to `next`).
    pub async fn sign_in_to(&self, username: &str, next: &str) -> reqwest::Response {
        let start = self.get(&format!("/auth/login?next={}", encode(next))).await;
        assert_eq!(start.status().as_u16(), 303, "/auth/login redirects to the identity provider");
        let authorize = location(&start);
        assert!(authorize.starts_with(&keycloak_issuer()), "to the issuer: {authorize}");

        let login_page = self.client.get(&authorize).send().await.expect("Keycloak answers");
        let callback = if login_page.status().is_redirection() {
            location(&login_page) // an SSO session already exists in this cookie jar
        } else {
            let html = login_page.text().await.unwrap();
            let action = form_action(&html, "kc-form-login").unwrap_or_else(|| panic!("no login form in: {html}"));
            let posted = self
                .client
                .post(&action)
                .form(&[("username", username), ("password", DEMO_PASSWORD), ("credentialId", "")])
                .send()
                .await
                .expect("Keycloak takes the login form");
            assert!(posted.status().is_redirection(), "{username} could not sign in at Keycloak: {}", posted.status());
            location(&posted)
        };
        let callback = callback
            .strip_prefix(CONSOLE_URL)
            .unwrap_or_else(|| panic!("Keycloak redirects to the console's public URL, not to {callback}"));
        self.get(callback).await
    }

    /// Signs in and lands on /me; panics unless it works.
    pub async fn sign_in(&self, username: &str) {
        let response = self.sign_in_to(username, "/me").await;
        let status = response.status().as_u16();
        let body_or_location = if status == 303 { location(&response) } else { response.text().await.unwrap() };
        assert_eq!((status, body_or_location.as_str()), (303, "/me"), "{username} signs in");
    }
}

pub use ops::testing::audit_lines;

/// Percent-encodes a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// The `action` of the form with this id, HTML entities in it decoded.
fn form_action(html: &str, form_id: &str) -> Option<String> {
    let start = html.find(&format!(r#"id="{form_id}""#))?;
    let tag_start = html[..start].rfind("<form")?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let action = tag.split(r#"action=""#).nth(1)?.split('"').next()?;
    Some(action.replace("&amp;", "&"))
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Defaults, on port 0, with every optional dependency pointed at a closed port: tests do not depend on
/// the service stack, and readiness has something definite to report. Identity too is unreachable here:
/// nobody can sign in (see [`idp_config`]).
pub fn test_config() -> Config {
    let mut config = Config::with_defaults("postgres://unused@127.0.0.1/unused").expect("defaults parse");
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.redis_url = Secret::new(format!("redis://127.0.0.1:{}", closed_port()));
    config.kafka_brokers = format!("127.0.0.1:{}", closed_port());
    config.engine_url = format!("http://127.0.0.1:{}/engine-rest", closed_port());
    config.vendor_url = format!("http://127.0.0.1:{}", closed_port());
    config.oidc_issuer = format!("http://127.0.0.1:{}/realms/opsdeck", closed_port());
    config.oidc_client_secret = Some(Secret::new("no-identity-provider-here".to_string()));
    config.public_url = CONSOLE_URL.to_string();
    config.style_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../style");
    config.public_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public");
    // Runs happen when a test starts them, not on the scheduler's clock.
    config.reconcile_interval_minutes = 0;
    config
}

/// [`test_config`] with the service stack's Keycloak as identity provider: people sign in for real.
pub fn idp_config() -> Config {
    let mut config = test_config();
    config.oidc_issuer = keycloak_issuer();
    config.oidc_client_secret =
        Some(Secret::new(env_or("OPSDECK_OIDC_CLIENT_SECRET", "opsdeck-console-dev-secret")));
    config
}

/// An app without a reachable identity provider (health, readiness, the sign-in gate).
pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, test_config()).await
}

/// An app signing people in through the stack's Keycloak.
pub async fn spawn_app_with_idp(pool: PgPool) -> TestApp {
    spawn_app_with(pool, idp_config()).await
}

/// An app with `username` signed in.
pub async fn signed_in_app(pool: PgPool, username: &str) -> TestApp {
    let app = spawn_app_with_idp(pool).await;
    app.sign_in(username).await;
    app
}

pub async fn spawn_app_with(pool: PgPool, config: Config) -> TestApp {
    spawn_app_sharing(pool, config, Arc::new(reqwest::cookie::Jar::default())).await
}

/// An app whose client uses `cookies` (another app's, to be that same browser after a restart).
pub async fn spawn_app_sharing(pool: PgPool, config: Config, cookies: Arc<reqwest::cookie::Jar>) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init(server::config::LogFormat::Pretty);
    }
    let application = Application::with_pool(pool, &config).await.expect("the app builds");
    let address = format!("http://{}", application.local_addr());
    let server = tokio::spawn(application.run_until_stopped()).abort_handle();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(cookies.clone())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    TestApp { address, client, cookies, server }
}

/// `n` unpublished `OrderCaptured` events of unknown orders, created 5, 10, … minutes ago (the oldest
/// `5 × n` minutes old): an outbox backlog no relay of the test touches.
pub async fn waiting_outbox_events(pool: &PgPool, n: i32) {
    sqlx::query(
        "insert into messaging.outbox_event (outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,
                                             event_type, payload, created_at)
         select gen_random_uuid(), gen_random_uuid(), 'order', gen_random_uuid(), 1, 'OrderCaptured', '{}',
                now() - make_interval(mins => g * 5)
         from generate_series(1, $1) g",
    )
    .bind(n)
    .execute(pool)
    .await
    .expect("the outbox events are written");
}

/// A pool for a database that is not there: connecting fails quickly.
pub fn unreachable_pool() -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&format!("postgres://opsdeck:opsdeck@127.0.0.1:{}/opsdeck", closed_port()))
        .unwrap()
}

/// An order as the platform captures it: a quote with two lines, approved, accepted, then sent into
/// orchestration.
pub struct CapturedOrder {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub order_number: String,
}

pub async fn capture_order(pool: &PgPool, tenant_id: TenantId, quote_number: &str, customer: &str) -> CapturedOrder {
    platform::tenants::ensure_well_known(pool).await.unwrap();
    let ctx = CommandContext::new("tess.tester");
    let mut tx = pool.begin().await.unwrap();
    let quote = create_quote(
        &mut tx,
        &QuoteForCreate {
            tenant_id,
            quote_number: quote_number.to_string(),
            customer_name: customer.to_string(),
            currency: "EUR".to_string(),
            lines: vec![
                QuoteLineInput {
                    product_sku: "ROUTER-X1".into(),
                    description: "Edge router".into(),
                    quantity: 2,
                    unit_list_minor: 125_000,
                    discount_bp: 0,
                },
                QuoteLineInput {
                    product_sku: "SUPPORT-24X7".into(),
                    description: "Support, one year".into(),
                    quantity: 1,
                    unit_list_minor: 49_999,
                    discount_bp: 1_000,
                },
            ],
        },
        &ctx,
    )
    .await
    .unwrap();
    apply_quote_command(&mut tx, tenant_id, quote.quote_id, None, QuoteCommand::ApproveWithoutReview, &ctx)
        .await
        .unwrap();
    let accepted =
        accept_quote(&mut tx, tenant_id, quote.quote_id, &format!("accept-{quote_number}"), &ctx).await.unwrap();
    apply_order_command(
        &mut tx,
        tenant_id,
        accepted.order_id,
        Some(1),
        OrderCommand::StartOrchestration,
        &ctx.clone().with_reason("customer asked for express handling"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    CapturedOrder { tenant_id, order_id: accepted.order_id, order_number: accepted.order_number }
}

/// An open SEV2 incident of `tenant`, declared by the system: what repairs and notes hang on.
pub async fn incident_of(pool: &PgPool, tenant_id: TenantId) -> String {
    use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
    let form = DeclareForm {
        severity: "SEV2".into(),
        detected_by: "RECONCILIATION".into(),
        summary: "Orders captured during the engine outage never started".into(),
        tenants: vec![tenant_id.to_string()],
        ..Default::default()
    };
    let input = IncidentForDeclare::parse(&form).expect("the incident form parses");
    declare_incident(pool, &ops::identity::Actor::system("test"), &input).await.expect("declared").incident_id.to_string()
}

/// A captured order of `tenant_id` whose orchestration start was given up: resume-orchestration fits.
pub async fn stuck_order(pool: &PgPool, tenant_id: TenantId, number: &str) -> OrderId {
    let order = platform::testing::captured_order(pool, tenant_id, number).await.order_id;
    let mut conn = pool.acquire().await.expect("a connection");
    platform::orchestration::give_up_start(&mut conn, order, "gave up: process engine unreachable", "test").await.expect("given up");
    order
}

/// The fields of the resume-orchestration request form.
pub fn resume_form<'a>(tenant: &'a str, order: &'a str, incident: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("repair_type", "resume-orchestration"),
        ("tenant", tenant),
        ("entity_id", order),
        ("incident_id", incident),
        ("reason", "the start was given up while the engine was down"),
        ("idempotency_key", key),
        ("mismatch_id", ""),
    ]
}
