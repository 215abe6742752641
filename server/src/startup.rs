//! Building and running the HTTP application.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::{header, HeaderName, HeaderValue, Request};
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
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::config::Config;
use crate::error::{log_errors, Error, Result};
use crate::routes::{health, metrics, pages};
use crate::telemetry;

/// What every handler and page can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub probes: Probes,
    pub metrics: PrometheusHandle,
    pub leptos_options: LeptosOptions,
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
        let listener =
            TcpListener::bind(config.listen).await.map_err(|source| Error::Bind { addr: config.listen, source })?;
        let state = AppState {
            probes: Probes::new(pool.clone(), config.probe_targets()),
            pool,
            metrics: telemetry::metrics_handle(),
            leptos_options: LeptosOptions::builder().output_name("opsdeck").site_addr(config.listen).build(),
        };
        Ok(Application { listener, router: router(state, &config.style_dir) })
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

/// Every route of the console.
pub fn router(state: AppState, style_dir: &Path) -> Router {
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
        .layer(axum::middleware::from_fn(log_errors))
        // Nothing runs in the browser: say so, and let the browser refuse anything that tries.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));

    Router::new()
        .route("/", get(|| async { Redirect::to("/orders") }))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .leptos_routes_with_handler(page_routes, pages::render_page)
        .route_layer(axum::middleware::from_fn(metrics::track_http))
        // Static files are not counted: they would drown the pages in the request metrics.
        .nest_service("/style", ServeDir::new(style_dir))
        .fallback(pages::render_page)
        .layer(http_layers)
        .with_state(state)
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
