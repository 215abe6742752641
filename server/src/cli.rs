//! The command line: `opsdeck [--config FILE] serve | migrate | seed …`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use platform::seed::SeedParams;

use crate::config::Config;
use crate::error::Result;
use crate::startup::Application;
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(name = "opsdeck", version, about = "The operations console for the CPQ/OMS platform")]
pub struct Cli {
    /// TOML configuration file (default: ./opsdeck.toml when it exists). See opsdeck.example.toml.
    #[arg(long, global = true, env = "OPSDECK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP console (pages, /healthz, /readyz, /metrics).
    Serve,
    /// Apply the database migrations of every schema.
    Migrate,
    /// Generate a reference data set (tenants, quotes, orders, injected anomalies); prints a JSON report.
    Seed(SeedArgs),
    /// The reference platform: run its workers, inject faults, flip mitigation switches.
    #[command(subcommand)]
    Platform(crate::platform_cmd::PlatformCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run reconciliation checks now (`all`, or one check: quote-order, stuck-order, …); prints each run's
    /// counts as JSON and exits 4 when a run found open mismatches, 1 when one failed.
    Reconcile(ReconcileArgs),
    /// Failure drills (lesson §22): start one, end its cause, end and score it, list them.
    #[command(subcommand)]
    Drill(DrillCommand),
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Break the platform for a drill (engine-incident-retry, kafka-poison-event, outbox-stuck,
    /// duplicate-order, redis-outage, postgres-lock-contention, approval-sla-breach,
    /// reconciliation-mismatch, manual-repair-dry-run, bad-deployment); prints the drill as JSON.
    Start { drill: String },
    /// End the drill's cause (the outage, the blocker) from the console.
    StopFault { drill_id: uuid::Uuid },
    /// End the drill and print its §22.2 evaluation.
    End {
        drill_id: uuid::Uuid,
        /// Was the runbook accurate: YES, PARTLY or NO.
        #[arg(long)]
        runbook_accurate: String,
        /// What the runbook got wrong (needed unless YES): it becomes an action item.
        #[arg(long, default_value = "")]
        runbook_gap: String,
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// The latest drills, newest first.
    List,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// `all`, or a check by name (`quote-order`, `QUOTE_ORDER`).
    #[arg(value_parser = parse_checks)]
    pub check: Checks,
    /// Only this tenant (its id); default every tenant.
    #[arg(long)]
    pub tenant: Option<platform::ids::TenantId>,
    /// Look only at what changed since the last clean run, for the checks that can.
    #[arg(long)]
    pub incremental: bool,
}

/// The checks a `reconcile` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks(pub Vec<ops::reconcile::CheckName>);

fn parse_checks(text: &str) -> std::result::Result<Checks, String> {
    use ops::reconcile::CheckName;
    use platform::machine::Named;
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(Checks(CheckName::ALL.to_vec()));
    }
    CheckName::from_arg(text).map(|c| Checks(vec![c])).ok_or_else(|| {
        let names: Vec<String> = CheckName::ALL.iter().map(|c| c.slug()).collect();
        format!("{text:?} is not a check: all, {}", names.join(", "))
    })
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; prints a JSON report and fails when a line was changed, removed or inserted.
    Verify,
}

/// Defaults are the seed module's own ([`SeedParams::default`]), which also validates the ranges.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Orders the platform captures (legacy duplicates come on top).
    #[arg(long, default_value_t = SeedParams::default().orders)]
    pub orders: u64,
    /// Tenants besides the four well-known ones.
    #[arg(long, default_value_t = SeedParams::default().extra_tenants)]
    pub extra_tenants: u32,
    /// Share of orders given each kind of injected anomaly (0 to 0.25).
    #[arg(long, default_value_t = SeedParams::default().anomaly_rate, value_parser = parse_rate)]
    pub anomaly_rate: f64,
    /// Seed of the random generator: the same seed gives the same data set.
    #[arg(long, default_value_t = SeedParams::default().rng_seed)]
    pub rng_seed: u64,
}

fn parse_rate(text: &str) -> std::result::Result<f64, String> {
    let rate: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0 and 1"))
    }
}

/// Parses the command line, loads the configuration and runs the subcommand.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("opsdeck: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let outcome = match cli.command {
        Command::Serve => serve(&config).await,
        Command::Migrate => migrate(&config).await,
        Command::Seed(args) => seed(&config, args).await,
        Command::Platform(command) => crate::platform_cmd::run(&config, command).await,
        Command::Drill(command) => drill(&config, command).await,
        Command::Audit(AuditCommand::Verify) => match audit_verify(&config).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(3),
            Err(error) => Err(error),
        },
        Command::Reconcile(args) => match reconcile(&config, args).await {
            Ok(code) => return code,
            Err(error) => Err(error),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, error.debug = ?error, "opsdeck failed");
            eprintln!("opsdeck: {error}");
            ExitCode::FAILURE
        }
    }
}

#[tracing::instrument(skip_all)]
async fn serve(config: &Config) -> Result<()> {
    tracing::info!(?config, database = %config.database_target(), "starting the console");
    let application = Application::build(config).await?;
    tracing::info!(address = %application.local_addr(), public_url = %config.public_url, "listening");
    application.run_until_stopped().await
}

#[tracing::instrument(skip_all, fields(database = %config.database_target()))]
async fn migrate(config: &Config) -> Result<()> {
    let pool = platform::db::connect(config.database_url.expose(), 2).await?;
    platform::db::migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(())
}

#[tracing::instrument(skip_all, fields(database = %config.database_target()))]
async fn seed(config: &Config, args: SeedArgs) -> Result<()> {
    let pool = platform::db::connect(config.database_url.expose(), config.database_max_connections).await?;
    let params = SeedParams {
        orders: args.orders,
        extra_tenants: args.extra_tenants,
        anomaly_rate: args.anomaly_rate,
        rng_seed: args.rng_seed,
    };
    let report = platform::seed::run(&pool, &params).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn reconcile_takes_all_or_one_check_by_either_spelling() {
        use ops::reconcile::CheckName;
        use platform::machine::Named;
        let cli = Cli::try_parse_from(["opsdeck", "reconcile", "all"]).unwrap();
        let Command::Reconcile(args) = cli.command else { panic!("not reconcile") };
        assert_eq!(args.check.0.len(), CheckName::ALL.len());
        let cli = Cli::try_parse_from(["opsdeck", "reconcile", "stuck-order", "--incremental"]).unwrap();
        let Command::Reconcile(args) = cli.command else { panic!("not reconcile") };
        assert_eq!((args.check.0, args.incremental), (vec![CheckName::StuckOrder], true));
        assert!(Cli::try_parse_from(["opsdeck", "reconcile", "everything"]).is_err());
    }

    #[test]
    fn seed_flags_parse_and_anomaly_rate_is_bounded() {
        let cli =
            Cli::try_parse_from(["opsdeck", "seed", "--orders", "3000", "--anomaly-rate", "0.02", "--rng-seed", "7"])
                .unwrap();
        let Command::Seed(args) = cli.command else { panic!("not seed") };
        assert_eq!((args.orders, args.extra_tenants, args.rng_seed), (3000, SeedParams::default().extra_tenants, 7));
        assert!(Cli::try_parse_from(["opsdeck", "seed", "--anomaly-rate", "1.5"]).is_err());
    }

    #[test]
    fn platform_run_keeps_to_the_shared_topics_and_group_unless_told_otherwise() {
        use crate::platform_cmd::PlatformCommand;
        let topics = |cli: Cli| match cli.command {
            Command::Platform(PlatformCommand::Run(args)) => (args.topic_prefix, args.projection_group),
            _ => panic!("not platform run"),
        };
        let default = topics(Cli::try_parse_from(["opsdeck", "platform", "run"]).unwrap());
        assert_eq!(default, ("opsdeck.".to_string(), platform::projection::DEFAULT_GROUP.to_string()));
        let own = Cli::try_parse_from(["opsdeck", "platform", "run", "--topic-prefix", "bench.", "--projection-group", "bench-projection"]);
        assert_eq!(topics(own.unwrap()), ("bench.".to_string(), "bench-projection".to_string()));
    }
}

/// Prints the chain's report; whether it holds. Runs as the SYSTEM actor `cli`, and is audited.
#[tracing::instrument(skip_all, fields(database = %config.database_target()))]
async fn audit_verify(config: &Config) -> Result<bool> {
    let pool = platform::db::connect(config.database_url.expose(), 2).await?;
    let report = ops::audit::verify_chain(&pool, &ops::identity::Actor::system("cli")).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(broken) = &report.broken {
        eprintln!("opsdeck: the audit chain is broken at line {}: {}", broken.audit_id, broken.problem.describe());
    }
    Ok(report.holds())
}

async fn drill(config: &Config, command: DrillCommand) -> Result<()> {
    let pool = platform::db::connect(config.database_url.expose(), 2).await?;
    let kit = config.fault_kit();
    let actor = ops::identity::Actor::system("cli");
    let shown = match command {
        DrillCommand::Start { drill } => {
            serde_json::to_value(ops::drill::start_drill(&pool, &kit, &actor, &ops::drill::DrillStartForm { drill }).await?)?
        }
        DrillCommand::StopFault { drill_id } => serde_json::to_value(ops::drill::stop_fault(&pool, &kit, &actor, drill_id).await?)?,
        DrillCommand::End { drill_id, runbook_accurate, runbook_gap, notes } => {
            let form = ops::drill::DrillEndForm { runbook_accurate: runbook_accurate.to_uppercase(), runbook_gap, notes };
            let input = ops::drill::DrillForEnd::parse(&form).map_err(ops::Error::Invalid)?;
            serde_json::to_value(ops::drill::end_drill(&pool, &kit, &actor, drill_id, &input).await?)?
        }
        DrillCommand::List => serde_json::to_value(ops::drill::list_drills(&pool, &actor, 50).await?)?,
    };
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

/// Runs the checks as the SYSTEM actor `cli` (audited), one after the other; prints every run's summary.
#[tracing::instrument(skip_all, fields(database = %config.database_target()))]
async fn reconcile(config: &Config, args: ReconcileArgs) -> Result<ExitCode> {
    use ops::reconcile::{RunOrigin, RunRequest, RunStatus};
    let pool = platform::db::connect(config.database_url.expose(), 4).await?;
    let engine = platform::engine::EngineClient::new(&config.engine_url);
    let request = RunRequest { checks: args.check.0, tenant: args.tenant, origin: RunOrigin::Cli, incremental: args.incremental };
    let done = ops::reconcile::run(&pool, Some(&engine), &ops::identity::Actor::system("cli"), &request).await?;
    println!("{}", serde_json::to_string_pretty(&done)?);
    let failed = done.iter().any(|r| r.status == RunStatus::Failed);
    let found = done.iter().any(|r| r.mismatches > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else if found {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    })
}
