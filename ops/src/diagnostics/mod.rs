//! Live diagnostics (issue 11; lesson §11–§15, §19.2): one panel per system the platform runs on, each
//! saying what is wrong and what to do next, worst first.
//!
//! - [`kafka`]: consumer lag per group and partition, judged by Burrow's rules over a window of samples,
//!   and in business terms (orders waiting for the projection);
//! - [`engine`]: Operaton incidents and failed jobs, mapped to orders and tenants by business key, and
//!   the orders stuck meanwhile ([`orders`]);
//! - [`outbox`]: pending events by aggregate and type, claims whose relay is dead;
//! - [`postgres`]: blocking and blocked sessions, long transactions, the console's pool;
//! - [`redis`]: latency, hit ratio, evictions, memory.
//!
//! Talking to Kafka, the engine and Redis is the sampler's job ([`Diagnostics`], [`Diagnostics::run`]): it
//! runs every [`DiagnosticsConfig::interval`] in `serve`, keeps the results, and writes the Kafka samples
//! to PostgreSQL. Pages and `/metrics` read what it kept ([`overview`], [`Diagnostics::export_metrics`]):
//! neither ever probes. A dependency that is down is a [`Panel::Unavailable`] saying what cannot be seen —
//! never an error page. Everything here reads; nothing changes the platform (terminating a session is
//! advice with the lesson's safety rule beside it, not a button).
//!
//! Reads go through [`crate::command::read`] as `diagnostics.read` (the Read permission). Data that names
//! tenants (engine problems, waiting and stuck orders, the outbox) is cut to the viewer's tenants and to
//! the tenant filter; Kafka offsets and PostgreSQL sessions name none and are shown platform-wide.

pub mod config;
pub mod detectors;
pub mod engine;
mod handle;
pub mod kafka;
mod metrics;
pub mod orders;
pub mod outbox;
mod panel;
pub mod postgres;
pub mod redis;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgPool;

pub use config::DiagnosticsConfig;
pub use handle::{Diagnostics, Latest};
pub use metrics::{describe as describe_metrics, GAUGES as METRIC_GAUGES};
pub use panel::{Panel, Status, Unavailable, Verdict};

use crate::command::{read, Action, Envelope};
use crate::identity::{Actor, TenantScope};
use crate::Result;

/// How long a page waits for the sampler's first round after the console started
/// ([`Diagnostics::first_round`]).
pub const FIRST_ROUND_WAIT: Duration = Duration::from_secs(6);

/// The tenants a read covers: `None` for every tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Option<BTreeSet<TenantId>>);

impl Scope {
    /// The tenant filter when given (authorised by the runner), else the actor's scope.
    pub fn of(actor: &Actor, filter: Option<TenantId>) -> Scope {
        match (filter, &actor.tenants) {
            (Some(tenant), _) => Scope(Some(BTreeSet::from([tenant]))),
            (None, TenantScope::All) => Scope(None),
            (None, TenantScope::Only(tenants)) => Scope(Some(tenants.clone())),
        }
    }

    pub fn admits(&self, tenant: TenantId) -> bool {
        self.0.as_ref().is_none_or(|t| t.contains(&tenant))
    }

    /// Every tenant, unfiltered: what may see problems that name no tenant.
    pub fn is_everything(&self) -> bool {
        self.0.is_none()
    }

    /// For SQL: `None` for every tenant.
    pub fn tenants(&self) -> Option<Vec<TenantId>> {
        self.0.as_ref().map(|t| t.iter().copied().collect())
    }
}

/// A panel of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Kafka,
    Engine,
    Outbox,
    Postgres,
    Redis,
}

impl Area {
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Kafka => "kafka",
            Area::Engine => "engine",
            Area::Outbox => "outbox",
            Area::Postgres => "postgres",
            Area::Redis => "redis",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Area::Kafka => "Kafka consumer lag",
            Area::Engine => "Process engine",
            Area::Outbox => "Outbox",
            Area::Postgres => "PostgreSQL",
            Area::Redis => "Redis",
        }
    }
}

/// The Kafka panel: lag (needs Kafka) and orders waiting for the projection (PostgreSQL only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaPanel {
    pub lag: Panel<kafka::ConsumerLag>,
    pub waiting: Vec<kafka::WaitingOrders>,
}

/// The engine panel: incidents and failed jobs (needs the engine) and stuck orders (PostgreSQL only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnginePanel {
    pub problems: Panel<engine::EngineProblems>,
    pub stuck: Vec<orders::StuckOrders>,
}

/// Every panel, as one viewer may see them, and their verdicts worst first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub at: DateTime<Utc>,
    pub tenant: Option<TenantId>,
    pub kafka: KafkaPanel,
    pub engine: EnginePanel,
    pub outbox: outbox::OutboxBacklog,
    pub postgres: postgres::PostgresSessions,
    pub redis: Panel<redis::RedisStats>,
    /// The business detectors the runbooks alert on that no panel shows (exported on `/metrics`).
    pub detectors: Vec<detectors::TenantDetectors>,
    /// One per area, worst first.
    pub verdicts: Vec<(Area, Verdict)>,
}

impl Overview {
    pub fn verdict(&self, area: Area) -> Option<&Verdict> {
        self.verdicts.iter().find(|(a, _)| *a == area).map(|(_, v)| v)
    }

    fn judge(&mut self, config: &DiagnosticsConfig) {
        let sla = config.lag_sla;
        let waiting = match self.kafka.waiting.first().filter(|w| w.oldest_age_seconds > sla.as_secs_f64()) {
            Some(w) => Verdict::new(
                Status::Err,
                format!(
                    "{} order(s) of {} wait for the projection; the oldest change was published {:.0} s ago (SLA {} s)",
                    w.orders,
                    w.slug,
                    w.oldest_age_seconds,
                    sla.as_secs()
                ),
                "Customers see stale orders: find the projection consumer's status above and why it is behind.",
                kafka::RUNBOOK,
            ),
            None => Verdict::ok("", kafka::RUNBOOK),
        };
        let mut kafka = self.kafka.lag.verdict(|lag| lag.verdict(sla), kafka::RUNBOOK).worst(waiting);
        // What a lagging consumer costs, in business terms, beside what is wrong with it.
        let waiting_total: i64 = self.kafka.waiting.iter().map(|w| w.orders).sum();
        let oldest = self.kafka.waiting.iter().map(|w| w.oldest_age_seconds).fold(0.0, f64::max);
        if kafka.status != Status::Ok && waiting_total > 0 && !kafka.wrong.contains("wait for the projection") {
            kafka.wrong = format!(
                "{} — {waiting_total} order(s) waiting for the projection, oldest {:.0} min",
                kafka.wrong,
                oldest / 60.0
            );
        }
        let engine = self
            .engine
            .problems
            .verdict(engine::EngineProblems::verdict, engine::RUNBOOK)
            .worst(orders::verdict(&self.engine.stuck, config.order_stuck_after));
        let outbox = self.outbox.verdict(config.outbox_pending_age);
        let postgres = self.postgres.verdict(config.lock_wait);
        let redis = self.redis.verdict(|stats| stats.verdict(config.redis_slow), redis::RUNBOOK);
        let mut verdicts = vec![
            (Area::Kafka, kafka),
            (Area::Engine, engine),
            (Area::Outbox, outbox),
            (Area::Postgres, postgres),
            (Area::Redis, redis),
        ];
        // Stable: equal statuses keep the order above.
        verdicts.sort_by(|a, b| b.1.status.cmp(&a.1.status));
        self.verdicts = verdicts;
    }
}

/// Every panel for `actor`, cut to `tenant` when given (which must be in the actor's scope), from what
/// the sampler kept. It does not wait for a round: a page that may run right after start-up first waits
/// for [`Diagnostics::first_round`] (the sampler's own round calls this, and must not wait for itself).
#[tracing::instrument(skip(pool, diagnostics, actor), fields(actor = %actor.subject))]
pub async fn overview(
    pool: &PgPool,
    diagnostics: &Diagnostics,
    actor: &Actor,
    tenant: Option<TenantId>,
) -> Result<Overview> {
    let latest = diagnostics.latest();
    let config = diagnostics.config().clone();
    let mut envelope = Envelope::new(actor, Action::DiagnosticsRead);
    if let Some(tenant) = tenant {
        envelope = envelope.tenant(tenant);
    }
    read(pool, envelope, async |cx| {
        let scope = Scope::of(actor, tenant);
        let tenants = scope.tenants();
        let tenants = tenants.as_deref();
        let (sampled_at, windows) = kafka::windows(cx.db(), config.window).await?;
        let lag = match &latest.kafka {
            Some(Err(unavailable)) => Panel::Unavailable(unavailable.clone()),
            // Kafka answered, with no group to sample: that is a reading too.
            Some(Ok(observed)) => {
                Panel::Ready(kafka::ConsumerLag::judge(sampled_at.or(Some(*observed)), windows, config.lag_rules()))
            }
            // Before this replica's first round, another replica's samples (in PostgreSQL) still tell.
            None if sampled_at.is_none() => Panel::Unavailable(not_yet("kafka", kafka::AFFECTED)),
            _ => Panel::Ready(kafka::ConsumerLag::judge(sampled_at, windows, config.lag_rules())),
        };
        let waiting = kafka::waiting_orders(cx.db(), tenants).await?;
        let problems = match &latest.engine {
            Some(Panel::Ready(observation)) => Panel::Ready(engine::map(cx.db(), observation, &scope).await?),
            Some(Panel::Unavailable(unavailable)) => Panel::Unavailable(unavailable.clone()),
            None => Panel::Unavailable(not_yet("engine", engine::AFFECTED)),
        };
        let stuck = orders::stuck_orders(cx.db(), tenants, config.order_stuck_after).await?;
        let outbox = outbox::backlog(cx.db(), tenants).await?;
        let postgres = postgres::sessions(cx.db(), pool, config.long_transaction).await?;
        let redis = latest.redis.clone().unwrap_or_else(|| Panel::Unavailable(not_yet("redis", redis::AFFECTED)));
        let detectors = detectors::detect(cx.db(), tenants).await?;
        let mut overview = Overview {
            at: Utc::now(),
            tenant,
            kafka: KafkaPanel { lag, waiting },
            engine: EnginePanel { problems, stuck },
            outbox,
            postgres,
            redis,
            detectors,
            verdicts: Vec::new(),
        };
        overview.judge(&config);
        Ok(overview)
    })
    .await
}

fn not_yet(dependency: &'static str, affected: &'static str) -> Unavailable {
    Unavailable {
        dependency,
        affected,
        detail: "not read yet: the sampler's first round has not finished".into(),
        checked_at: None,
    }
}
