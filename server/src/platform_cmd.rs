//! `opsdeck platform …`: runs the reference platform's moving parts — the fulfillment vendor, the outbox
//! relay, the projection consumer, the orchestration starter and the engine worker — so that the console has a live platform to
//! operate. Each part is a library in the `platform` crate; this module only starts and stops them.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Subcommand};
use platform::engine::EngineClient;
use platform::orchestration::{ensure_deployed, Starter, StarterConfig, Worker, WorkerConfig};
use platform::projection::{ProjectionConfig, ProjectionConsumer};
use platform::relay::{Relay, RelayConfig};
use platform::vendor::VendorClient;
use tokio::sync::watch;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Platform(#[from] platform::Error),
    #[error("outbox relay: {0}")]
    Relay(#[from] platform::relay::Error),
    #[error("projection consumer: {0}")]
    Projection(#[from] platform::projection::Error),
    #[error("orchestration: {0}")]
    Orchestration(#[from] platform::orchestration::Error),
    #[error("fulfillment vendor: cannot listen on {addr}: {source}")]
    VendorListen { addr: SocketAddr, source: std::io::Error },
}

#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Run the vendor, relay, projection consumer, orchestration starter, engine worker, approval
    /// escalation timer and
    /// (with --traffic-rate) the traffic simulator, until Ctrl-C.
    Run(RunArgs),
    /// Switch a fault on (or end one): each is recorded with when and what it touched.
    #[command(subcommand)]
    Fault(FaultCommand),
    /// Mitigation switches the platform honours within seconds.
    #[command(subcommand)]
    Control(ControlCommand),
    /// Deploy the order-orchestration process model to the engine (what `run` does at start; unchanged
    /// models are not deployed again).
    Deploy,
    /// Run one outbox relay alone, until Ctrl-C: more instances share the outbox, and one can be
    /// killed without the rest of the platform (the crash suite of `scripts/reliability.sh` does).
    Relay(PartArgs),
    /// Run one order projection consumer alone, until Ctrl-C (instances of one group share partitions).
    Project(PartArgs),
}

/// Where a lone relay or consumer reads and writes.
#[derive(Debug, Args)]
pub struct PartArgs {
    /// Topic prefix: the relay publishes `<prefix><aggregate type>`, the consumer reads `<prefix>order`.
    #[arg(long, default_value = "opsdeck.")]
    pub topic_prefix: String,
    /// The projection consumer's group (ignored by the relay).
    #[arg(long, default_value = platform::projection::DEFAULT_GROUP)]
    pub group: String,
    /// Events a relay claims at a time (ignored by the consumer).
    #[arg(long, default_value_t = RelayConfig::new("", "").batch_size)]
    pub batch_size: u32,
    /// Batches a relay keeps in flight at once (ignored by the consumer).
    #[arg(long, default_value_t = RelayConfig::new("", "").lanes)]
    pub lanes: u32,
}

#[derive(Debug, Subcommand)]
pub enum FaultCommand {
    /// The relay stops claiming (outbox backlog grows).
    PauseRelay,
    /// Leave N pending events claimed by a relay that "crashed" (stale claims, no heartbeat).
    CrashRelay {
        #[arg(long, default_value_t = 5)]
        events: u32,
        /// How long ago the dead relay claimed them, in minutes.
        #[arg(long, default_value_t = 15)]
        minutes_ago: u64,
    },
    /// The fulfillment vendor answers 503 until the fault ends.
    VendorOutage,
    /// The vendor ships only line 1 of each order and backorders the rest until the fault ends (orders
    /// wait in PARTIALLY_FULFILLED).
    VendorPartial,
    /// The vendor refuses every fulfillment request as a business answer (422) until the fault ends.
    VendorReject,
    /// An unparseable record on the order topic (lands in the dead-letter topic).
    PoisonEvent,
    /// An order captured whose process start was given up (it stays CAPTURED with no process instance).
    OrderWithoutProcess { #[arg(long)] tenant: String },
    /// An approval request reassigned to nobody.
    ApprovalWithoutAssignee { #[arg(long)] tenant: String },
    /// Accept one quote twice (the second attempt must be refused).
    DuplicateAcceptance { #[arg(long)] tenant: String },
    /// The projection consumer stops consuming.
    PauseConsumer {
        #[arg(long, default_value = platform::projection::DEFAULT_GROUP)]
        group: String,
    },
    /// End a fault by id (switches its control off, brings the vendor back).
    End { fault_id: uuid::Uuid },
    /// Faults, newest first.
    List {
        #[arg(long)]
        active: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ControlCommand {
    /// Turn a switch on or off: `relay`, `consumer:<group>`, `acceptance:<tenant id>`,
    /// `orchestration-starts` or `orchestration-starts:<tenant id>`.
    Set {
        switch: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// Why (at least 10 characters); recorded with your name.
        #[arg(long)]
        reason: String,
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
        #[arg(long)]
        incident: Option<uuid::Uuid>,
    },
    /// The switches and their state.
    List,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where the fulfillment vendor listens.
    #[arg(long, env = "OPSDECK_VENDOR_LISTEN", default_value = "127.0.0.1:58090")]
    pub vendor_listen: SocketAddr,
    /// Leave out the engine worker (orders then stop at ORCHESTRATING).
    #[arg(long)]
    pub no_engine_worker: bool,
    /// Quotes per second the traffic simulator creates (0: no traffic).
    #[arg(long, default_value_t = 0.0)]
    pub traffic_rate: f64,
    /// Attempts at an order's orchestration start before it is given up and left for a person.
    #[arg(long, env = "OPSDECK_START_MAX_ATTEMPTS", default_value_t = StarterConfig::new("").max_attempts)]
    pub start_max_attempts: u32,
    /// Longest wait between two attempts at a start, in seconds (the backoff doubles from 1 s up to it).
    #[arg(long, env = "OPSDECK_START_BACKOFF_CAP_SECS", default_value_t = StarterConfig::new("").backoff_cap.as_secs())]
    pub start_backoff_cap_secs: u64,
    /// Prefix of the topics the relay publishes to and the projection consumer reads
    /// (`<prefix><aggregate>`): a platform sharing its Kafka with another one (a benchmark's database
    /// beside the demo's) keeps to topics of its own.
    #[arg(long, env = "OPSDECK_KAFKA_TOPIC_PREFIX", default_value = "opsdeck.")]
    pub topic_prefix: String,
    /// The projection consumer's group (its offsets, its inbox rows).
    #[arg(long, env = "OPSDECK_PROJECTION_GROUP", default_value = platform::projection::DEFAULT_GROUP)]
    pub projection_group: String,
}

const CLI_ACTOR: &str = "opsdeck-cli";

pub async fn run(config: &Config, command: PlatformCommand) -> crate::Result<()> {
    match command {
        PlatformCommand::Run(args) => run_all(config, args).await.map_err(Into::into),
        PlatformCommand::Fault(fault) => run_fault(config, fault).await.map_err(Into::into),
        PlatformCommand::Control(control) => run_control(config, control).await.map_err(Into::into),
        PlatformCommand::Deploy => {
            let deployment = ensure_deployed(&EngineClient::new(&config.engine_url)).await.map_err(Error::from)?;
            println!("{}", serde_json::json!({ "deployment": deployment.id, "name": deployment.name }));
            Ok(())
        }
        PlatformCommand::Relay(args) => run_relay(config, args).await.map_err(Into::into),
        PlatformCommand::Project(args) => run_projection(config, args).await.map_err(Into::into),
    }
}

async fn run_relay(config: &Config, args: PartArgs) -> Result<(), Error> {
    let pool = platform::db::connect_lazy(config.database_url.expose(), 4)?;
    let relay_config = RelayConfig {
        topic_prefix: args.topic_prefix,
        batch_size: args.batch_size,
        lanes: args.lanes,
        ..RelayConfig::new(RelayConfig::generate_instance_id(), &config.kafka_brokers)
    };
    let relay = Relay::new(pool, relay_config)?;
    until_ctrl_c(|stop| relay.run(stop)).await;
    Ok(())
}

async fn run_projection(config: &Config, args: PartArgs) -> Result<(), Error> {
    let pool = platform::db::connect_lazy(config.database_url.expose(), 4)?;
    let projection_config = ProjectionConfig {
        topic_prefix: args.topic_prefix,
        group_id: args.group,
        ..ProjectionConfig::new(ProjectionConfig::generate_instance_id(), &config.kafka_brokers)
    };
    let consumer = ProjectionConsumer::new(pool, projection_config)?;
    until_ctrl_c(|stop| consumer.run(stop)).await;
    Ok(())
}

fn tenant_arg(text: &str) -> Result<platform::ids::TenantId, Error> {
    platform::ids::TenantId::parse(text)
        .map_err(|e| platform::Error::Invalid { field: "tenant", message: e.to_string() }.into())
}

fn vendor_client() -> VendorClient {
    let url = std::env::var("OPSDECK_VENDOR_URL").unwrap_or_else(|_| "http://127.0.0.1:58090".into());
    VendorClient::new(url, Duration::from_secs(5))
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")));
}

async fn run_fault(config: &Config, command: FaultCommand) -> Result<(), Error> {
    use platform::faults;
    let pool = platform::db::connect(config.database_url.expose(), 4).await?;
    let record = match command {
        FaultCommand::PauseRelay => faults::pause_relay(&pool, CLI_ACTOR).await?,
        FaultCommand::CrashRelay { events, minutes_ago } => {
            faults::crash_relay_mid_claim(&pool, events, Duration::from_secs(minutes_ago * 60), CLI_ACTOR).await?
        }
        FaultCommand::VendorOutage => faults::vendor_outage(&pool, &vendor_client(), CLI_ACTOR).await?,
        FaultCommand::VendorPartial => {
            faults::vendor_fault(&pool, &vendor_client(), faults::FaultType::VendorPartial, CLI_ACTOR).await?
        }
        FaultCommand::VendorReject => {
            faults::vendor_fault(&pool, &vendor_client(), faults::FaultType::VendorRejection, CLI_ACTOR).await?
        }
        FaultCommand::PoisonEvent => faults::poison_event(&pool, &config.kafka_brokers, "opsdeck.", CLI_ACTOR).await?,
        FaultCommand::OrderWithoutProcess { tenant } => {
            faults::order_without_process(&pool, tenant_arg(&tenant)?, CLI_ACTOR).await?
        }
        FaultCommand::ApprovalWithoutAssignee { tenant } => {
            faults::approval_without_assignee(&pool, tenant_arg(&tenant)?, CLI_ACTOR).await?
        }
        FaultCommand::DuplicateAcceptance { tenant } => {
            faults::duplicate_acceptance(&pool, tenant_arg(&tenant)?, CLI_ACTOR).await?
        }
        FaultCommand::PauseConsumer { group } => faults::pause_consumer(&pool, &group, CLI_ACTOR).await?,
        // Through the same door as the console: the vendor told, a lock holder's session ended, Redis unpaused.
        FaultCommand::End { fault_id } => {
            faults::end_any(&pool, fault_id, Some(&vendor_client()), Some(config.redis_url.expose().as_str()), CLI_ACTOR).await?
        }
        FaultCommand::List { active } => {
            print_json(&faults::list_faults(&pool, active).await?);
            return Ok(());
        }
    };
    print_json(&record);
    Ok(())
}

fn parse_switch(text: &str) -> Result<platform::control::Control, Error> {
    use platform::control::Control;
    let (name, arg) = match text.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (text, None),
    };
    Ok(match (name, arg) {
        ("relay", None) => Control::PauseRelay,
        ("consumer", Some(group)) => Control::PauseConsumer { group: group.to_string() },
        ("consumer", None) => Control::PauseConsumer { group: platform::projection::DEFAULT_GROUP.to_string() },
        ("acceptance", Some(t)) => Control::DisableQuoteAcceptance { tenant: tenant_arg(t)? },
        ("orchestration-starts", None) => Control::PauseOrchestrationStarts { tenant: None },
        ("orchestration-starts", Some(t)) => Control::PauseOrchestrationStarts { tenant: Some(tenant_arg(t)?) },
        _ => {
            return Err(platform::Error::Invalid {
                field: "switch",
                message: format!("unknown switch {text:?}: relay, consumer[:group], acceptance:<tenant>, orchestration-starts[:tenant]"),
            }
            .into())
        }
    })
}

async fn run_control(config: &Config, command: ControlCommand) -> Result<(), Error> {
    let pool = platform::db::connect(config.database_url.expose(), 2).await?;
    match command {
        ControlCommand::Set { switch, state, reason, actor, incident } => {
            let change = platform::control::ControlChange {
                control: parse_switch(&switch)?,
                enabled: state == "on",
                reason,
                actor,
                incident_id: incident,
            };
            let mut tx = pool.begin().await.map_err(platform::Error::from)?;
            let stored = platform::control::set_control(&mut tx, &change).await?;
            tx.commit().await.map_err(platform::Error::from)?;
            print_json(&stored);
        }
        ControlCommand::List => print_json(&platform::control::list_controls(&pool).await?),
    }
    Ok(())
}

/// Runs one worker until Ctrl-C, then lets it finish what it holds and stop.
async fn until_ctrl_c<F: std::future::Future>(work: impl FnOnce(watch::Receiver<bool>) -> F) {
    let (stop_tx, stop) = watch::channel(false);
    let work = work(stop);
    tokio::pin!(work);
    tokio::select! {
        _ = &mut work => return,
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(40), work).await;
}

#[tracing::instrument(skip_all, fields(vendor = %args.vendor_listen))]
async fn run_all(config: &Config, args: RunArgs) -> Result<(), Error> {
    let pool = platform::db::connect_lazy(config.database_url.expose(), config.database_max_connections)?;
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let listener = tokio::net::TcpListener::bind(args.vendor_listen)
        .await
        .map_err(|source| Error::VendorListen { addr: args.vendor_listen, source })?;
    tracing::info!(addr = %args.vendor_listen, "fulfillment vendor listening");
    tasks.spawn(async move {
        if let Err(error) = platform::vendor::serve(listener).await {
            tracing::error!(%error, "fulfillment vendor stopped");
        }
    });

    let relay_config = RelayConfig {
        topic_prefix: args.topic_prefix.clone(),
        ..RelayConfig::new(RelayConfig::generate_instance_id(), &config.kafka_brokers)
    };
    let relay = Relay::new(pool.clone(), relay_config)?;
    tasks.spawn(relay.run(stop.clone()).map_unit());

    let projection_config = ProjectionConfig {
        topic_prefix: args.topic_prefix.clone(),
        group_id: args.projection_group.clone(),
        ..ProjectionConfig::new(ProjectionConfig::generate_instance_id(), &config.kafka_brokers)
    };
    let consumer = ProjectionConsumer::new(pool.clone(), projection_config)?;
    tasks.spawn(consumer.run(stop.clone()).map_unit());

    let engine = EngineClient::new(&config.engine_url);
    {
        // The engine may still be starting: keep trying to deploy the model rather than give up.
        let deploy_engine = engine.clone();
        let mut deploy_stop = stop.clone();
        tasks.spawn(async move {
            loop {
                match ensure_deployed(&deploy_engine).await {
                    Ok(d) => {
                        tracing::info!(deployment = %d.id, "order-orchestration model deployed");
                        break;
                    }
                    Err(error) => tracing::warn!(%error, "model not deployed yet; retrying in 5 s"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = deploy_stop.changed() => break,
                }
            }
        });
    }

    let starter_config = StarterConfig {
        max_attempts: args.start_max_attempts,
        backoff_cap: Duration::from_secs(args.start_backoff_cap_secs),
        ..StarterConfig::new(StarterConfig::generate_instance_id())
    };
    let starter = Starter::new(pool.clone(), engine.clone(), starter_config)?;
    tasks.spawn(starter.run(stop.clone()).map_unit());

    if !args.no_engine_worker {
        let vendor = VendorClient::new(format!("http://{}", args.vendor_listen), Duration::from_secs(5));
        let worker = Worker::new(pool.clone(), engine, vendor, WorkerConfig::new(WorkerConfig::generate_worker_id()));
        tasks.spawn(worker.run(stop.clone()));
    }

    {
        let (pool, stop) = (pool.clone(), stop.clone());
        tasks.spawn(async move {
            platform::approval_timer::run_escalation_timer(&pool, Duration::from_secs(30), "approval-escalation-timer", stop).await;
        });
    }

    if args.traffic_rate > 0.0 {
        let (pool, stop) = (pool.clone(), stop.clone());
        let rate = args.traffic_rate;
        let redis_url = config.redis_url.expose().clone();
        tasks.spawn(async move {
            let tenants = match platform::tenants::list(&pool).await {
                Ok(t) => t.into_iter().map(|t| t.tenant_id).collect(),
                Err(error) => {
                    tracing::error!(%error, "traffic simulator: no tenants");
                    return;
                }
            };
            let sim = platform::simulator::SimConfig {
                tenants,
                rate_per_sec: rate,
                approval_share: 0.3,
                stop,
                seed: 42,
                max_quotes: None,
                prices: platform::pricing::PriceBook::new(pool.clone(), Some(redis_url)),
            };
            match platform::simulator::run_traffic(&pool, sim).await {
                Ok(counts) => tracing::info!(?counts, "traffic simulator stopped"),
                Err(error) => tracing::error!(%error, "traffic simulator failed"),
            }
        });
    }

    tokio::signal::ctrl_c().await.ok();
    tracing::info!("stopping the platform workers");
    let _ = stop_tx.send(true);
    // The vendor task never ends by itself; give the workers time to finish their batch, then leave.
    let _ = tokio::time::timeout(Duration::from_secs(40), async {
        while tasks.len() > 1 {
            tasks.join_next().await;
        }
    })
    .await;
    tasks.abort_all();
    Ok(())
}

/// Drops a task's result so differently-typed workers share one JoinSet.
trait MapUnit: std::future::Future + Sized {
    fn map_unit(self) -> impl std::future::Future<Output = ()> + Send
    where
        Self: Send,
    {
        async move {
            self.await;
        }
    }
}

impl<F: std::future::Future> MapUnit for F {}
