//! Traffic simulator: the platform's ordinary day, driven through its commands only.
//!
//! Each tick creates and prices a quote (1–4 lines) for one of the tenants; policy decides whether it
//! needs review (a share of quotes is discounted past the policy's threshold on purpose). A quote that
//! needs no review is approved without review at once; one that does is submitted for approval and
//! approved on a later tick. Approved quotes are accepted (a unique acceptance key each), which captures
//! the order with its intent to orchestrate; the orchestration starter, not the simulator, starts it.
//! It never writes a table itself: everything it leaves behind has its transitions and outbox events, as
//! real traffic would.
//!
//! It runs until the stop signal turns true (or `max_quotes` quotes were created, for tests). A refused
//! command (a mitigation switch) is counted and the run carries on.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::approval_timer::{active_policy, approve, request_approval, ApprovalPolicy};
use crate::command::{accept_quote, apply_quote_command, create_quote, CommandContext, QuoteForCreate, QuoteLineInput};
use crate::ids::{ApprovalRequestId, QuoteId, TenantId};
use crate::pricing::PriceBook;
use crate::quote::QuoteCommand;
use crate::seed::PRODUCTS;
use crate::{Error, Result};

/// The simulator's actor, on every transition it causes.
pub const ACTOR: &str = "simulator";


/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub tenants: Vec<TenantId>,
    /// Quotes created per second.
    pub rate_per_sec: f64,
    /// Share (0..=1) of quotes discounted past the tenant's policy threshold, so that they need review.
    pub approval_share: f64,
    /// The run ends when this turns true.
    pub stop: watch::Receiver<bool>,
    /// Same seed, same sequence of choices.
    pub seed: u64,
    /// Ends the run after this many quotes (tests, bounded benchmarks).
    pub max_quotes: Option<u64>,
    /// Where line prices come from: the price book, through its Redis cache when it has one.
    pub prices: PriceBook,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimCounts {
    pub quotes_created: u64,
    pub approved_without_review: u64,
    pub approvals_requested: u64,
    pub approvals_approved: u64,
    pub orders_captured: u64,
    /// Commands a rule or switch refused (e.g. acceptance disabled for a tenant).
    pub refused: u64,
    /// Other failures (database); logged.
    pub errors: u64,
}

struct Pending {
    tenant: TenantId,
    request: ApprovalRequestId,
    quote: QuoteId,
}

/// Runs traffic until stopped. Returns what it did; fails only if the configuration is unusable.
#[tracing::instrument(skip_all, fields(tenants = config.tenants.len(), rate = config.rate_per_sec, seed = config.seed))]
pub async fn run_traffic(pool: &PgPool, mut config: SimConfig) -> Result<SimCounts> {
    if config.tenants.is_empty() {
        return Err(Error::Invalid { field: "tenants", message: "at least one tenant is required".into() });
    }
    if !(config.rate_per_sec.is_finite() && config.rate_per_sec > 0.0) {
        return Err(Error::Invalid { field: "rate_per_sec", message: "must be a positive number".into() });
    }
    if !(0.0..=1.0).contains(&config.approval_share) {
        return Err(Error::Invalid { field: "approval_share", message: "must be between 0 and 1".into() });
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut counts = SimCounts::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate_per_sec));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        if *config.stop.borrow() || config.max_quotes.is_some_and(|max| counts.quotes_created >= max) {
            break;
        }
        tokio::select! {
            _ = ticker.tick() => {}
            changed = config.stop.changed() => {
                if changed.is_err() || *config.stop.borrow() { break; }
                continue;
            }
        }
        // Approve some of the requests opened on earlier ticks, then accept what they approved.
        let mut still_pending = Vec::with_capacity(pending.len());
        for p in pending.drain(..) {
            if rng.random_bool(0.5) {
                if let Some(approved) = tally(&mut counts, approve_pending(pool, &p).await) {
                    counts.approvals_approved += 1;
                    if approved {
                        accept(pool, p.tenant, p.quote, &mut counts).await;
                    }
                }
            } else {
                still_pending.push(p);
            }
        }
        pending = still_pending;

        let tenant = config.tenants[rng.random_range(0..config.tenants.len())];
        let wants_review = rng.random_bool(config.approval_share);
        let Some(lines) = tally(&mut counts, quote_lines(&config.prices, &mut rng).await) else { continue };
        match tally(&mut counts, create_and_route(pool, tenant, lines, wants_review, &mut rng).await) {
            Some(Routed::Approved(quote)) => {
                counts.quotes_created += 1;
                counts.approved_without_review += 1;
                accept(pool, tenant, quote, &mut counts).await;
            }
            Some(Routed::PendingApproval(quote, request)) => {
                counts.quotes_created += 1;
                counts.approvals_requested += 1;
                pending.push(Pending { tenant, request, quote });
            }
            None => {}
        }
    }
    tracing::info!(?counts, open_approvals = pending.len(), "traffic run ended");
    Ok(counts)
}

enum Routed {
    Approved(QuoteId),
    PendingApproval(QuoteId, ApprovalRequestId),
}

fn ctx() -> CommandContext {
    CommandContext::new(ACTOR).with_reason("simulated traffic")
}

/// Counts a refusal or an error and turns the result into an option.
fn tally<T>(counts: &mut SimCounts, result: Result<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(Error::Refused { reason }) => {
            tracing::debug!(%reason, "simulated command refused");
            counts.refused += 1;
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "simulated command failed");
            counts.errors += 1;
            None
        }
    }
}

/// 1–4 lines of catalog products, priced by the price book (its cache when Redis answers).
async fn quote_lines(prices: &PriceBook, rng: &mut StdRng) -> Result<Vec<QuoteLineInput>> {
    let mut lines = Vec::new();
    for _ in 0..rng.random_range(1..=4) {
        let (sku, _, _) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
        let (price, _) = prices.price(sku, "EUR").await?;
        lines.push(QuoteLineInput {
            product_sku: price.sku,
            description: price.description,
            quantity: rng.random_range(1..=5),
            unit_list_minor: price.unit_list_minor,
            discount_bp: rng.random_range(0..=5) * 100,
        });
    }
    Ok(lines)
}

/// Creates and prices a quote, then routes it by policy: approval request, or approval without review.
async fn create_and_route(
    pool: &PgPool,
    tenant: TenantId,
    mut lines: Vec<QuoteLineInput>,
    wants_review: bool,
    rng: &mut StdRng,
) -> Result<Routed> {
    let ctx = ctx();
    let mut tx = pool.begin().await?;
    let policy = active_policy(&mut tx, tenant).await?;
    if let (true, Some(p)) = (wants_review, &policy) {
        // Discount one line past the threshold, as a sales rep chasing a deal would.
        let line = rng.random_range(0..lines.len());
        lines[line].discount_bp = (p.max_discount_bp + 500).min(9_000);
    }
    let number = format!("Q-SIM-{}", &Uuid::now_v7().simple().to_string()[16..]);
    let created = create_quote(
        &mut tx,
        &QuoteForCreate {
            tenant_id: tenant,
            quote_number: number,
            customer_name: format!("Simulated Customer {}", rng.random_range(1..=50)),
            currency: "EUR".into(),
            lines: lines.clone(),
        },
        &ctx,
    )
    .await?;
    let routed = match policy.filter(|p| needs_review(p, &lines)) {
        Some(policy) => {
            let requested = request_approval(&mut tx, tenant, created.quote_id, &policy, &ctx).await?;
            Routed::PendingApproval(created.quote_id, requested.approval_request_id)
        }
        None => {
            apply_quote_command(&mut tx, tenant, created.quote_id, Some(created.version), QuoteCommand::ApproveWithoutReview, &ctx)
                .await?;
            Routed::Approved(created.quote_id)
        }
    };
    tx.commit().await?;
    Ok(routed)
}

fn needs_review(policy: &ApprovalPolicy, lines: &[QuoteLineInput]) -> bool {
    let total: i64 = lines.iter().map(QuoteLineInput::net_minor).sum();
    let max_discount = lines.iter().map(|l| l.discount_bp).max().unwrap_or(0);
    policy.requires_approval(total, max_discount)
}

/// Approves a pending request as the policy's approver would. Ok(true) when the quote is now approved.
async fn approve_pending(pool: &PgPool, p: &Pending) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let change = approve(&mut tx, p.request, &CommandContext::new("simulator:approver"), Some("simulated review")).await?;
    tx.commit().await?;
    Ok(change.quote.is_some())
}

/// Accepts an approved quote, capturing its order (and with it the intent to orchestrate it).
async fn accept(pool: &PgPool, tenant: TenantId, quote: QuoteId, counts: &mut SimCounts) {
    let accepted = async {
        let mut tx = pool.begin().await?;
        accept_quote(&mut tx, tenant, quote, &format!("sim-accept-{quote}"), &ctx()).await?;
        tx.commit().await?;
        Ok::<(), Error>(())
    }
    .await;
    if tally(counts, accepted).is_some() {
        counts.orders_captured += 1;
    }
}
