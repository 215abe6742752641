//! Spawning the app, and the platform fixtures the tests look at.

use std::net::TcpListener;
use std::path::PathBuf;
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

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client.get(format!("{}{}", self.address, path_and_query)).send().await.expect("the app answers")
    }

    /// The status and body of a page.
    pub async fn page(&self, path_and_query: &str) -> (u16, String) {
        let response = self.get(path_and_query).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("a text body"))
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Defaults, on port 0, with every optional dependency pointed at a closed port: tests do not depend on
/// the service stack, and readiness has something definite to report.
pub fn test_config() -> Config {
    let mut config = Config::with_defaults("postgres://unused@127.0.0.1/unused").expect("defaults parse");
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.redis_url = Secret::new(format!("redis://127.0.0.1:{}", closed_port()));
    config.kafka_brokers = format!("127.0.0.1:{}", closed_port());
    config.engine_url = format!("http://127.0.0.1:{}/engine-rest", closed_port());
    config.oidc_issuer = format!("http://127.0.0.1:{}/realms/opsdeck", closed_port());
    config.style_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../style");
    config
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, test_config()).await
}

pub async fn spawn_app_with(pool: PgPool, config: Config) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init(server::config::LogFormat::Pretty);
    }
    let application = Application::with_pool(pool, &config).await.expect("the app builds");
    let address = format!("http://{}", application.local_addr());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    TestApp { address, client }
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
