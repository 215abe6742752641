//! Building and running the HTTP application.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::LeptosRoutes;
use metrics_exporter_prometheus::PrometheusHandle;
use ops::health::Probes;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::auth::{csrf, gate, session, Auth};
use crate::config::Config;
use crate::error::{log_errors, Error, Result};
use crate::routes::{
    admin, auth, checklists, controls, drills, health, incidents, internal, metrics, pages, reconciliation, repairs, runbooks,
};
use crate::telemetry;

/// How often expired sessions are deleted from the store.
const EXPIRED_SESSION_SWEEP: Duration = Duration::from_secs(600);
/// How often pending repair follow-ups are looked at (each waits out its own backoff).
const REPAIR_FOLLOW_UP_ROUND: Duration = Duration::from_secs(5);

/// What every handler and page can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub probes: Probes,
    /// Live diagnostics: the sampler's latest round (pages and `/metrics` read it; neither probes).
    pub diagnostics: ops::diagnostics::Diagnostics,
    /// The diagnostics sampler runs while a state holds this: it stops once the router is gone.
    pub sampler: Arc<tokio::sync::watch::Sender<bool>>,
    pub metrics: PrometheusHandle,
    pub leptos_options: LeptosOptions,
    pub auth: Auth,
    /// Where incident status updates go; a delivery worker sends what the outbox queued.
    pub webhooks: ops::incident::Webhooks,
    /// What repairs reach beyond PostgreSQL (the process engine) and their settings.
    pub repairs: ops::repair::Services,
    /// The internal API's per-client budget.
    pub rate_limit: crate::auth::rate_limit::RateLimit,
    /// The dashboards' figure cache in Redis (PostgreSQL when Redis is away).
    pub figures: ops::dashboard::FigureCache,
    /// What failure drills reach to break things.
    pub faults: ops::drill::FaultKit,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// A bound listener and the router to serve on it.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Connects to the database lazily: the console starts, and reports PostgreSQL down on `/readyz`, when
    /// the database is not there yet.
    pub async fn build(config: &Config) -> Result<Self> {
        let pool = platform::db::connect_lazy(config.database_url.expose(), config.database_max_connections)?;
        Self::with_pool(pool, config).await
    }

    /// The same application over a given pool: tests hand in a database of their own.
    pub async fn with_pool(pool: PgPool, config: &Config) -> Result<Self> {
        let auth = Auth::from_config(config)?;
        let listener =
            TcpListener::bind(config.listen).await.map_err(|source| Error::Bind { addr: config.listen, source })?;
        let sessions = session::store(pool.clone()).await;
        session::spawn_expired_deletion(sessions.clone(), EXPIRED_SESSION_SWEEP);
        auth.warm_up();
        let webhooks = ops::incident::Webhooks::new(config.webhooks.clone()).map_err(|e| {
            Error::Config(crate::config::ConfigError::Value { key: "webhooks", message: e.to_string() })
        })?;
        if !config.webhooks.is_empty() {
            spawn_delivery_worker(pool.clone(), webhooks.clone());
        }
        if config.audit_verify_minutes > 0 {
            spawn_chain_verifier(pool.clone(), Duration::from_secs(u64::from(config.audit_verify_minutes) * 60));
        }
        if config.dashboard_sample_seconds > 0 {
            tokio::spawn(ops::dashboard::run_sampler(
                pool.clone(),
                Duration::from_secs(u64::from(config.dashboard_sample_seconds)),
                Duration::from_secs(u64::from(config.dashboard_retention_hours) * 3600),
            ));
        }
        let diagnostics =
            ops::diagnostics::Diagnostics::new(pool.clone(), &config.probe_targets(), config.diagnostics());
        let sampler = spawn_diagnostics_sampler(diagnostics.clone());
        let engine = platform::engine::EngineClient::new(&config.engine_url);
        if let Some(schedule) = config.reconcile_schedule() {
            spawn_reconciler(pool.clone(), engine.clone(), schedule);
        }
        let repairs = ops::repair::Services {
            approval_ttl: Duration::from_secs(u64::from(config.repair_approval_ttl_minutes) * 60),
            ..ops::repair::Services::new(engine.clone())
        };
        // Engine calls a repair owes after its commit, retried here when the engine was away.
        tokio::spawn(ops::repair::run_follow_ups(pool.clone(), repairs.clone(), REPAIR_FOLLOW_UP_ROUND));
        let state = AppState {
            probes: diagnostics.probes().clone(),
            diagnostics,
            sampler,
            pool,
            metrics: telemetry::metrics_handle(),
            leptos_options: LeptosOptions::builder().output_name("opsdeck").site_addr(config.listen).build(),
            auth,
            webhooks,
            rate_limit: crate::auth::rate_limit::RateLimit::new(
                config.internal_api_per_minute,
                platform::redis_link::RedisLink::new(Some(config.redis_url.expose().clone())),
            ),
            figures: ops::dashboard::FigureCache::new(platform::redis_link::RedisLink::new(Some(config.redis_url.expose().clone()))),
            faults: config.fault_kit(),
            repairs,
        };
        let csp = content_security_policy(&config.oidc_issuer);
        Ok(Application { listener, router: router(state, &config.style_dir, &config.public_dir, sessions, csp) })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until SIGINT or SIGTERM, then lets requests in flight finish.
    pub async fn run_until_stopped(self) -> Result<()> {
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown_signal()).await.map_err(Error::Serve)
    }
}

/// Delivers queued status updates to the webhooks, retrying with backoff, for as long as the process runs.
/// Deliveries are claimed with SKIP LOCKED, so every replica may run one.
fn spawn_delivery_worker(pool: PgPool, webhooks: ops::incident::Webhooks) {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep_open = stop_tx;
        ops::incident::run_delivery_worker(
            pool,
            webhooks,
            reqwest::Client::new(),
            ops::incident::DeliveryPolicy::default(),
            Duration::from_secs(2),
            stop,
        )
        .await;
    });
}

/// Recomputes the audit log's hash chain every `every` (the first time after one period), so
/// `opsdeck_audit_chain_holds` says whether the evidence was rewritten. Each run is audited as SYSTEM.
fn spawn_chain_verifier(pool: PgPool, every: Duration) {
    tokio::spawn(async move {
        let actor = ops::identity::Actor::system("audit-verifier");
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match ops::audit::verify_chain(&pool, &actor).await {
                Ok(report) if report.holds() => tracing::info!(lines = report.lines_checked, "the audit chain holds"),
                Ok(_) => {} // verify_chain logged the break as an error
                Err(error) => tracing::warn!(%error, "the audit chain could not be verified"),
            }
        }
    });
}

/// Runs the diagnostics sampler (a round at once, then every interval) until the returned sender is
/// dropped with the last state holding it.
fn spawn_diagnostics_sampler(diagnostics: ops::diagnostics::Diagnostics) -> Arc<tokio::sync::watch::Sender<bool>> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(diagnostics.run(stop));
    Arc::new(stop_tx)
}

/// Runs each reconciliation check at its interval (first pass one tick after start). Due-ness comes from
/// the database and each run holds its check's advisory lock, so every replica may run one.
fn spawn_reconciler(pool: PgPool, engine: platform::engine::EngineClient, schedule: ops::reconcile::Schedule) {
    tokio::spawn(async move {
        tokio::time::sleep(schedule.tick).await;
        ops::reconcile::run_scheduler(pool, Some(engine), schedule).await;
    });
}

/// Nothing runs in the browser: say so, and let the browser refuse anything that tries. Forms may post to
/// the console and be redirected to the identity provider (signing out; a lookup whose session has
/// ended goes through sign-in), so its origin is allowed as a form target too.
pub fn content_security_policy(oidc_issuer: &str) -> HeaderValue {
    let idp = reqwest::Url::parse(oidc_issuer).map(|url| url.origin().ascii_serialization()).unwrap_or_default();
    let policy = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' {idp}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(policy.trim()).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        )
    })
}

/// Every route of the console, in three parts:
///
/// - operational (`/healthz`, `/readyz`, `/metrics`, `/style/*`): no session, no identity — they must
///   answer whatever state identity and sessions are in, and never touch the session store;
/// - the internal API (`/internal/v1/*`): a service's bearer token on every request ([`Service`]);
/// - the console (pages, `/auth/*`): sessions, then the same-origin check on state-changing requests,
///   then the session gate (every page needs a signed-in session; `/auth/*` is how to get one).
///
/// [`Service`]: crate::auth::service::Service
pub fn router(state: AppState, style_dir: &Path, public_dir: &Path, sessions: PostgresStore, csp: HeaderValue) -> Router {
    // Leptos' reactive system spawns page data loads on this executor; idempotent.
    let _ = any_spawner::Executor::init_tokio();
    let page_routes = leptos_axum::generate_route_list(app::App);

    let x_request_id = HeaderName::from_static("x-request-id");
    let http_layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(from_fn(log_errors))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // A panicking handler answers 500 (logged by `log_errors` above) instead of dropping the connection.
        .layer(CatchPanicLayer::custom(Error::from_panic));

    let settings = state.auth.settings().clone();
    // Each area's forms come from its own router; the pages from the `app` crate's routes.
    let console = Router::new()
        .route("/", get(|| async { Redirect::to("/orders") }))
        .merge(auth::router())
        .merge(incidents::router())
        .merge(repairs::router())
        .merge(reconciliation::router())
        .merge(admin::router())
        .merge(controls::router())
        .merge(drills::router())
        .merge(checklists::router())
        .merge(runbooks::router())
        .leptos_routes_with_handler(page_routes, pages::render_page)
        .route_layer(from_fn(metrics::track_http))
        .fallback(pages::render_page)
        // Outermost last: the session is loaded, then the origin checked, then the session required.
        .layer(from_fn_with_state(state.clone(), gate::require_session))
        .layer(from_fn_with_state(state.clone(), csrf::same_origin_only))
        .layer(session::layer(sessions, settings.idle_timeout, settings.cookie_secure));

    let internal_api = internal::router()
        .route_layer(from_fn(metrics::track_http))
        .fallback(|| async { Error::NotFound("no such endpoint of the internal API".to_string()) });

    let operational = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route_layer(from_fn(metrics::track_http))
        // Static files are not counted: they would drown the pages in the request metrics. They are not
        // fingerprinted, so browsers keep them an hour and revalidate (ServeDir answers If-Modified-Since).
        .nest_service("/style", static_files(style_dir))
        .nest_service("/public", static_files(public_dir))
        .route("/favicon.ico", get(|| async { Redirect::permanent("/public/favicon.svg") }));

    operational.nest("/internal/v1", internal_api).merge(console).layer(http_layers).with_state(state)
}

/// A directory of static files with caching headers.
fn static_files(dir: &Path) -> SetResponseHeader<ServeDir, HeaderValue> {
    SetResponseHeader::overriding(ServeDir::new(dir), header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    // Give in-flight requests a bound, so a hung one cannot keep a replica alive forever.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        tracing::warn!("requests still in flight after 30 s; exiting");
        std::process::exit(1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_may_lead_to_the_identity_provider_and_nowhere_else() {
        let csp = content_security_policy("http://127.0.0.1:58180/realms/opsdeck");
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("form-action 'self' http://127.0.0.1:58180;"), "{csp}");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}
