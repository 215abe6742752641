//! The external-task worker: fetch and lock → run the topic's step → complete, or report the failure
//! with one retry fewer and a backoff. When a task's retries reach 0 the engine raises an incident,
//! and the task waits for an operator to fix the cause and set retries again (lesson 13.2). A business
//! answer (the vendor rejecting a line) is not a failure to retry: the step fails the line and the order
//! through their machines and the worker reports a BPMN error (lesson 13.1).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::watch;

use super::ownership::{adopt_unmarked, database_id, DATABASE_VARIABLE};
use super::tasks::{self, Outcome, Topic, TOPICS};
use super::{Error, Result};
use crate::command::CommandContext;
use crate::engine::{BusinessKey, EngineClient, ExternalTask, FetchTopic};
use crate::vendor::VendorClient;
use crate::worker::sleep_or_stop;

/// Worker kind written to `platform.worker_heartbeat.worker_kind`.
pub const WORKER_KIND: &str = "engine-worker";

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The engine's `workerId` and the heartbeat's `instance_id`; unique per running worker.
    pub worker_id: String,
    pub max_tasks: u32,
    /// How long a fetched task stays locked to this worker.
    pub lock_duration: Duration,
    /// Attempts before the engine raises an incident (the first failure leaves `max_retries - 1`).
    pub max_retries: i32,
    /// Backoff before a failed task can be fetched again.
    pub retry_timeout: Duration,
    /// Pause between polls that found nothing.
    pub poll_interval: Duration,
    /// How long a step waiting for the vendor (backordered lines) keeps its task before looking again.
    pub recheck_interval: Duration,
    pub heartbeat_interval: Duration,
    /// How often the worker adopts instances that name no database ([`super::ownership::adopt_unmarked`]).
    pub adopt_interval: Duration,
    /// Only tasks of these business keys (tests; one worker per order). Empty: every order.
    pub business_keys: Vec<BusinessKey>,
}

impl WorkerConfig {
    pub fn new(worker_id: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            max_tasks: 10,
            lock_duration: Duration::from_secs(30),
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
            recheck_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            adopt_interval: Duration::from_secs(300),
            business_keys: Vec::new(),
        }
    }

    pub fn generate_worker_id() -> String {
        format!("engine-worker-{}", uuid::Uuid::now_v7())
    }

    /// The retries to report after a failed attempt of `task`.
    pub fn retries_after_failure(&self, task: &ExternalTask) -> i32 {
        (task.retries.unwrap_or(self.max_retries) - 1).max(0)
    }

    /// The topics to fetch, each only for instances naming `database` ([`super::ownership`]).
    fn topics(&self, database: &str) -> Vec<FetchTopic> {
        let mine = serde_json::Map::from_iter([(DATABASE_VARIABLE.to_string(), serde_json::Value::from(database))]);
        let lock_duration = u64::try_from(self.lock_duration.as_millis()).unwrap_or(u64::MAX);
        let keys: Vec<Option<String>> = if self.business_keys.is_empty() {
            vec![None]
        } else {
            self.business_keys.iter().map(|k| Some(k.as_str().to_string())).collect()
        };
        TOPICS
            .iter()
            .flat_map(|t| {
                keys.iter().map(|k| FetchTopic {
                    topic_name: t.name().to_string(),
                    lock_duration,
                    business_key: k.clone(),
                    process_variables: Some(mine.clone()),
                })
            })
            .collect()
    }
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PollOutcome {
    pub fetched: u64,
    pub completed: u64,
    pub failed: u64,
    /// Ended with a BPMN error (a business answer): neither completed nor retried.
    pub business_errors: u64,
    /// Not done yet, nothing failed (lines backordered): kept locked until the recheck.
    pub waiting: u64,
}

#[derive(Debug, Default)]
struct Counts {
    polls: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    business_errors: AtomicU64,
    waiting: AtomicU64,
    errors: AtomicU64,
}

pub struct Worker {
    pool: PgPool,
    engine: EngineClient,
    vendor: VendorClient,
    config: WorkerConfig,
    counts: Arc<Counts>,
    /// This database's id, read once ([`super::ownership`]).
    database: tokio::sync::OnceCell<String>,
}

impl Worker {
    pub fn new(pool: PgPool, engine: EngineClient, vendor: VendorClient, config: WorkerConfig) -> Self {
        Self { pool, engine, vendor, config, counts: Arc::default(), database: tokio::sync::OnceCell::new() }
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Polls until `shutdown` turns true (or its sender is dropped), beating the heartbeat as it goes.
    /// A task in hand is finished (completed or failed) before the loop stops.
    #[tracing::instrument(skip_all, fields(worker_id = %self.config.worker_id))]
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.beat("running", true).await;
        let mut last_beat = tokio::time::Instant::now();
        self.adopt().await;
        let mut last_adopt = tokio::time::Instant::now();
        loop {
            let found = match self.poll_once().await {
                Ok(outcome) => outcome.fetched > 0,
                Err(e) => {
                    self.counts.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "poll failed");
                    false
                }
            };
            if last_beat.elapsed() >= self.config.heartbeat_interval {
                self.beat("running", false).await;
                last_beat = tokio::time::Instant::now();
            }
            if last_adopt.elapsed() >= self.config.adopt_interval {
                self.adopt().await;
                last_adopt = tokio::time::Instant::now();
            }
            let pause = if found { Duration::ZERO } else { self.config.poll_interval };
            if sleep_or_stop(&mut shutdown, pause).await {
                break;
            }
        }
        self.beat("stopped", false).await;
        tracing::info!("engine worker stopped");
    }

    /// One fetchAndLock and the handling of every task it returned.
    pub async fn poll_once(&self) -> Result<PollOutcome> {
        self.counts.polls.fetch_add(1, Ordering::Relaxed);
        let database = self.database().await?;
        let tasks =
            self.engine.fetch_and_lock(&self.config.worker_id, self.config.max_tasks, &self.config.topics(database)).await?;
        let mut outcome = PollOutcome { fetched: tasks.len() as u64, ..PollOutcome::default() };
        for task in tasks {
            match self.handle(&task).await {
                Ok(Outcome::Done) => {
                    self.engine.complete(&task.id, &self.config.worker_id).await?;
                    outcome.completed += 1;
                    self.counts.completed.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("opsdeck_engine_tasks_completed_total").increment(1);
                }
                Ok(Outcome::BusinessError { code, message }) => {
                    tracing::warn!(task_id = %task.id, topic = ?task.topic_name, business_key = ?task.business_key,
                        code, %message, "external task ended with a business error");
                    self.engine.handle_bpmn_error(&task.id, &self.config.worker_id, code, &message).await?;
                    outcome.business_errors += 1;
                    self.counts.business_errors.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("opsdeck_engine_tasks_business_errors_total").increment(1);
                }
                Ok(Outcome::Waiting { message }) => {
                    tracing::info!(task_id = %task.id, topic = ?task.topic_name, business_key = ?task.business_key,
                        %message, recheck_in = ?self.config.recheck_interval, "external task waits for the vendor");
                    self.engine.extend_lock(&task.id, &self.config.worker_id, self.config.recheck_interval).await?;
                    outcome.waiting += 1;
                    self.counts.waiting.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("opsdeck_engine_tasks_waiting_total").increment(1);
                }
                Err(e) => {
                    let retries = self.config.retries_after_failure(&task);
                    tracing::warn!(task_id = %task.id, topic = ?task.topic_name, business_key = ?task.business_key,
                        retries, error = %e, "external task failed");
                    self.engine
                        .handle_failure(
                            &task.id,
                            &self.config.worker_id,
                            &e.to_string(),
                            &format!("{e:?}"),
                            retries,
                            self.config.retry_timeout,
                        )
                        .await?;
                    outcome.failed += 1;
                    self.counts.failed.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("opsdeck_engine_tasks_failed_total").increment(1);
                }
            }
        }
        Ok(outcome)
    }

    #[tracing::instrument(skip_all, fields(task_id = %task.id, topic = ?task.topic_name, business_key = ?task.business_key))]
    async fn handle(&self, task: &ExternalTask) -> Result<Outcome> {
        let bad_key = || Error::BadBusinessKey { task_id: task.id.clone(), business_key: task.business_key.clone() };
        let (tenant, order) = task.business_key.as_deref().and_then(BusinessKey::parse).ok_or_else(bad_key)?;
        let topic =
            task.topic_name.as_deref().and_then(Topic::parse).ok_or_else(|| {
                Error::Platform(crate::Error::refused(format!("unknown topic {:?}", task.topic_name)))
            })?;
        if let Some(defect) = crate::release::defect_for(&self.pool, tenant, topic.name()).await? {
            return Err(Error::Release(defect));
        }
        let ctx = CommandContext::new(format!("{WORKER_KIND}:{}", self.config.worker_id))
            .with_reason(format!("order orchestration: {}", topic.name()));
        match topic {
            Topic::Reserve => tasks::reserve(&self.pool, &ctx, tenant, order).await,
            Topic::RequestFulfillment => {
                tasks::request_fulfillment(&self.pool, &self.vendor, &ctx, tenant, order).await
            }
            Topic::Activate => tasks::activate(&self.pool, &self.vendor, &ctx, tenant, order).await,
        }
    }

    async fn database(&self) -> Result<&str> {
        let read = || async { Ok::<_, Error>(database_id(&mut *self.pool.acquire().await?).await?) };
        Ok(self.database.get_or_try_init(read).await?.as_str())
    }

    /// Adopts the instances naming no database whose order is this database's; trouble is logged and
    /// tried again at the next interval.
    async fn adopt(&self) {
        match adopt_unmarked(&self.pool, &self.engine).await {
            Ok(0) => {}
            Ok(adopted) => tracing::info!(adopted, "instances without a database adopted"),
            Err(error) => tracing::warn!(%error, "adopting instances without a database failed"),
        }
    }

    /// Upserts this worker's heartbeat row; a failed beat is logged, never fatal.
    async fn beat(&self, state: &str, starting: bool) {
        let detail = serde_json::json!({
            "state": state,
            "polls": self.counts.polls.load(Ordering::Relaxed),
            "completed": self.counts.completed.load(Ordering::Relaxed),
            "failed": self.counts.failed.load(Ordering::Relaxed),
            "business_errors": self.counts.business_errors.load(Ordering::Relaxed),
            "waiting": self.counts.waiting.load(Ordering::Relaxed),
            "errors": self.counts.errors.load(Ordering::Relaxed),
            "vendor": self.vendor.base_url(),
            "engine": self.engine.base_url(),
        });
        if let Err(e) = crate::worker::beat(&self.pool, &self.config.worker_id, WORKER_KIND, detail, starting).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn task(retries: Option<i32>) -> ExternalTask {
        ExternalTask {
            id: "t".into(),
            topic_name: Some("order-reserve".into()),
            activity_id: None,
            process_instance_id: None,
            business_key: None,
            worker_id: None,
            retries,
            error_message: None,
        }
    }

    #[test]
    fn retries_count_down_from_the_configured_maximum_to_zero() {
        let config = WorkerConfig::new("w");
        assert_eq!(config.retries_after_failure(&task(None)), 2);
        assert_eq!(config.retries_after_failure(&task(Some(2))), 1);
        assert_eq!(config.retries_after_failure(&task(Some(1))), 0);
        assert_eq!(config.retries_after_failure(&task(Some(0))), 0);
    }

    #[test]
    fn a_worker_limited_to_business_keys_asks_for_each_topic_per_key() {
        let mut config = WorkerConfig::new("w");
        assert_eq!(config.topics("db").len(), 3);
        config.business_keys = vec![BusinessKey::for_order(crate::tenants::ACME, crate::ids::OrderId::new())];
        let topics = config.topics("db");
        assert_eq!(topics.len(), 3);
        assert!(topics.iter().all(|t| t.business_key.is_some()));
    }

    #[test]
    fn a_worker_asks_only_for_tasks_of_instances_naming_its_database() {
        let topics = WorkerConfig::new("w").topics("db-1");
        let body = serde_json::to_value(&topics).unwrap();
        assert!(body.as_array().unwrap().iter().all(|t| t["processVariables"] == serde_json::json!({ "opsdeckDb": "db-1" })), "{body}");
    }
}
