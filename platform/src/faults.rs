//! Fault injection: break the platform on purpose, the way it breaks in production, and record what was
//! done in `platform.fault_injection` (type, what it touched, who, when; [`end_fault`] sets `ended_at`).
//!
//! Every fault goes through the platform's own doors — mitigation switches through [`crate::control`],
//! quotes and approvals through their commands and machines — so what a fault leaves behind is a state
//! the platform can really reach, and the console must find and repair it as it would a real one. The one
//! exception is the crashed relay: it writes the claim a relay would have written before dying, under a
//! clearly-named function. Nothing here repairs; ending a fault only switches off what it switched on.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::approval_timer::{active_policy, reassign, request_approval};
use crate::command::{accept_quote, apply_quote_command, create_quote, CommandContext, QuoteForCreate, QuoteLineInput};
use crate::control::{set_control, Control, ControlChange};
use crate::ids::TenantId;
use crate::named_enum;
use crate::machine::Named;
use crate::orchestration::give_up_start;
use crate::quote::QuoteCommand;
use crate::vendor::client::VendorClient;
use crate::vendor::VendorMode;
use crate::{Error, Result};

named_enum!(/// The faults the platform can be given, as stored in `platform.fault_injection.fault_type`.
FaultType {
    PauseRelay => "PAUSE_RELAY",
    RelayCrashMidClaim => "RELAY_CRASH_MID_CLAIM",
    VendorOutage => "VENDOR_OUTAGE",
    VendorPartial => "VENDOR_PARTIAL",
    VendorRejection => "VENDOR_REJECTION",
    PoisonEvent => "POISON_EVENT",
    OrderWithoutProcess => "ORDER_WITHOUT_PROCESS",
    ApprovalWithoutAssignee => "APPROVAL_WITHOUT_ASSIGNEE",
    DuplicateAcceptance => "DUPLICATE_ACCEPTANCE",
    PauseConsumer => "PAUSE_CONSUMER",
    LockContention => "LOCK_CONTENTION",
    RedisOutage => "REDIS_OUTAGE",
    ApprovalSlaBreach => "APPROVAL_SLA_BREACH",
    BadDeployment => "BAD_DEPLOYMENT",
});

/// A recorded fault.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct FaultRecord {
    pub fault_id: Uuid,
    pub fault_type: String,
    pub tenant_id: Option<TenantId>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// What it touched, in detail (event ids, topic/offset, the refusal, …).
    pub detail: serde_json::Value,
    pub injected_by: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A fault to record.
#[derive(Debug, Clone)]
pub struct NewFault {
    pub fault_type: FaultType,
    pub tenant_id: Option<TenantId>,
    pub entity_type: Option<&'static str>,
    pub entity_id: Option<Uuid>,
    pub detail: serde_json::Value,
    pub injected_by: String,
}

const COLUMNS: &str = "fault_id, fault_type, tenant_id, entity_type, entity_id, detail, injected_by, started_at, ended_at";

/// Records a fault, in the caller's transaction (so the record and the damage commit together).
pub async fn record_fault(conn: &mut PgConnection, fault: NewFault) -> Result<FaultRecord> {
    Ok(sqlx::query_as::<_, FaultRecord>(&format!(
        "insert into platform.fault_injection (fault_id, fault_type, tenant_id, entity_type, entity_id, detail, injected_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(fault.fault_type.name())
    .bind(fault.tenant_id)
    .bind(fault.entity_type)
    .bind(fault.entity_id)
    .bind(fault.detail)
    .bind(fault.injected_by)
    .fetch_one(conn)
    .await?)
}

/// Ends a fault: sets `ended_at` and, for a switch-based fault (paused relay or consumer), switches the
/// control back off with `actor` and a reason naming the fault. A vendor outage is ended with
/// [`end_vendor_fault`], which also tells the vendor. Ending an ended fault is refused.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn end_fault(pool: &PgPool, fault_id: Uuid, actor: &str) -> Result<FaultRecord> {
    let mut tx = pool.begin().await?;
    let ended = end_fault_in(&mut tx, fault_id, actor).await?;
    tx.commit().await?;
    Ok(ended)
}

async fn end_fault_in(tx: &mut PgConnection, fault_id: Uuid, actor: &str) -> Result<FaultRecord> {
    let ended = sqlx::query_as::<_, FaultRecord>(&format!(
        "update platform.fault_injection set ended_at = now() where fault_id = $1 and ended_at is null returning {COLUMNS}"
    ))
    .bind(fault_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::refused(format!("fault {fault_id} does not exist or has already ended")))?;
    let control = match ended.fault_type.parse::<FaultType>()? {
        FaultType::PauseRelay => Some(Control::PauseRelay),
        FaultType::PauseConsumer => ended.detail["group"].as_str().map(|g| Control::PauseConsumer { group: g.to_string() }),
        _ => None,
    };
    if let Some(control) = control {
        set_control(
            tx,
            &ControlChange {
                control,
                enabled: false,
                reason: format!("fault injection {fault_id} ended"),
                actor: actor.to_string(),
                incident_id: None,
            },
        )
        .await?;
    }
    Ok(ended)
}

/// Ends a fault of any kind through its own door: the vendor is told, the lock holder's session ended,
/// Redis unpaused, switches switched off.
pub async fn end_any(pool: &PgPool, fault_id: Uuid, vendor: Option<&VendorClient>, redis_url: Option<&str>, actor: &str) -> Result<FaultRecord> {
    let fault = list_faults(pool, true)
        .await?
        .into_iter()
        .find(|f| f.fault_id == fault_id)
        .ok_or_else(|| Error::refused(format!("fault {fault_id} does not exist or has already ended")))?;
    match fault.fault_type.parse::<FaultType>()? {
        FaultType::VendorOutage | FaultType::VendorPartial | FaultType::VendorRejection => {
            let vendor = vendor.ok_or_else(|| Error::refused("no vendor is configured to end its fault"))?;
            end_vendor_fault(pool, vendor, fault_id, actor).await
        }
        FaultType::LockContention => {
            let name = fault.detail["application_name"].as_str().unwrap_or_default().to_string();
            sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1")
                .bind(&name)
                .execute(pool)
                .await?;
            end_fault(pool, fault_id, actor).await
        }
        FaultType::RedisOutage => {
            let url = redis_url.ok_or_else(|| Error::refused("no Redis is configured to unpause"))?;
            redis_command(url, redis::cmd("CLIENT").arg("UNPAUSE")).await?;
            end_fault(pool, fault_id, actor).await
        }
        FaultType::BadDeployment => {
            // Ending it is a choice the operator makes (§16.1): roll back or roll forward first.
            let tenant = fault.tenant_id.ok_or_else(|| Error::refused("the bad deployment names no tenant"))?;
            let mut conn = pool.acquire().await?;
            if let Some(serving) = crate::release::current(&mut conn, tenant).await?.filter(|r| r.is_defective()) {
                return Err(Error::refused(format!(
                    "release {} still serves the tenant: roll it back or forward (Controls → Releases) before ending the drill's cause",
                    serving.version
                )));
            }
            end_fault(pool, fault_id, actor).await
        }
        _ => end_fault(pool, fault_id, actor).await,
    }
}

/// The defective release the bad-deployment fault ships: reserving fails for every order of the tenant.
pub const BAD_RELEASE: &str = "2026.11.1";
const BAD_RELEASE_DEFECT: &str =
    "NullPointerException in ReserveHandler.reservationTtl (the inventory client of this build sends a field the reservation API does not know)";

/// A bad deployment (lesson §16): release [`BAD_RELEASE`] deployed to `tenant`, breaking the reserve
/// step, then a new order of the tenant accepted — the worker fails it until the engine raises an
/// incident. Recovery is the operator's choice (rollback or roll-forward) and then a retry of the
/// stalled order's step; ending the fault is refused while the bad release serves the tenant.
pub async fn bad_deployment(pool: &PgPool, tenant: TenantId, actor: &str) -> Result<FaultRecord> {
    let mut tx = pool.begin().await?;
    let release = crate::release::deploy(
        &mut tx,
        crate::release::NewRelease {
            tenant,
            version: BAD_RELEASE,
            kind: "DEPLOY",
            defect: Some((crate::orchestration::Topic::Reserve.name(), BAD_RELEASE_DEFECT)),
            reason: "fault injection: a release with a defect in the reserve step",
            actor,
            incident_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    let accepted = drill_order(pool, tenant, actor).await?;
    let mut tx = pool.begin().await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::BadDeployment,
            tenant_id: Some(tenant),
            entity_type: Some("order"),
            entity_id: Some(accepted.order_id.as_uuid()),
            detail: serde_json::json!({
                "release_id": release.release_id, "version": release.version, "replaces": release.replaces,
                "defect_topic": release.defect_topic, "order_id": accepted.order_id,
            }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

async fn redis_command(url: &str, command: &redis::Cmd) -> Result<()> {
    let client = redis::Client::open(url).map_err(|e| Error::refused(format!("redis: {e}")))?;
    let mut conn = tokio::time::timeout(StdDuration::from_secs(2), client.get_multiplexed_async_connection())
        .await
        .map_err(|_| Error::refused("redis did not answer"))?
        .map_err(|e| Error::refused(format!("redis: {e}")))?;
    command.query_async::<()>(&mut conn).await.map_err(|e| Error::refused(format!("redis: {e}")))
}

/// Faults, newest first; only the ones still on when `active_only`.
pub async fn list_faults(pool: &PgPool, active_only: bool) -> Result<Vec<FaultRecord>> {
    Ok(sqlx::query_as::<_, FaultRecord>(&format!(
        "select {COLUMNS} from platform.fault_injection where not $1 or ended_at is null order by started_at desc, fault_id desc"
    ))
    .bind(active_only)
    .fetch_all(pool)
    .await?)
}

fn switch_on(control: Control, fault: FaultType, actor: &str) -> ControlChange {
    ControlChange {
        control,
        enabled: true,
        reason: format!("fault injection: {}", fault.name()),
        actor: actor.to_string(),
        incident_id: None,
    }
}

/// Pauses every relay through the PAUSE_RELAY switch: the outbox backlog grows.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn pause_relay(pool: &PgPool, actor: &str) -> Result<FaultRecord> {
    let mut tx = pool.begin().await?;
    let state = set_control(&mut tx, &switch_on(Control::PauseRelay, FaultType::PauseRelay, actor)).await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::PauseRelay,
            tenant_id: None,
            entity_type: Some("platform_control"),
            entity_id: None,
            detail: serde_json::json!({ "control_key": state.control_key, "control_version": state.version }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Pauses the projection consumer of `group` through its PAUSE_CONSUMER switch: its lag grows.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn pause_consumer(pool: &PgPool, group: &str, actor: &str) -> Result<FaultRecord> {
    let mut tx = pool.begin().await?;
    let control = Control::PauseConsumer { group: group.to_string() };
    let state = set_control(&mut tx, &switch_on(control, FaultType::PauseConsumer, actor)).await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::PauseConsumer,
            tenant_id: None,
            entity_type: Some("platform_control"),
            entity_id: None,
            detail: serde_json::json!({ "control_key": state.control_key, "control_version": state.version, "group": group }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// A relay that claimed a batch and died: up to `count` unclaimed PENDING events (oldest first, skipping
/// rows a live relay holds) are left PROCESSING, `claimed_by` a `relay-crashed-<uuid>` instance that never
/// wrote a heartbeat, `claimed_at` `claimed_ago` in the past — so they are stale claims at once when
/// `claimed_ago` exceeds [`crate::relay::STALE_CLAIM_AFTER`]. No relay will touch them again.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn crash_relay_mid_claim(pool: &PgPool, count: u32, claimed_ago: StdDuration, actor: &str) -> Result<FaultRecord> {
    let instance = format!("relay-crashed-{}", Uuid::now_v7());
    let ago = Duration::from_std(claimed_ago).map_err(|e| Error::Invalid { field: "claimed_ago", message: e.to_string() })?;
    let mut tx = pool.begin().await?;
    // Uses ix_outbox_pending, as the relay's own claim does.
    let claimed: Vec<Uuid> = sqlx::query_scalar(
        "with victim as (
           select outbox_event_id from messaging.outbox_event
           where status = 'PENDING'
           order by created_at, outbox_event_id
           limit $1
           for update skip locked
         )
         update messaging.outbox_event e
         set status = 'PROCESSING', claimed_by = $2, claimed_at = now() - make_interval(secs => $3)
         from victim where e.outbox_event_id = victim.outbox_event_id
         returning e.outbox_event_id",
    )
    .bind(i64::from(count))
    .bind(&instance)
    .bind(ago.num_milliseconds() as f64 / 1000.0)
    .fetch_all(&mut *tx)
    .await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::RelayCrashMidClaim,
            tenant_id: None,
            entity_type: Some("outbox_event"),
            entity_id: claimed.first().copied(),
            detail: serde_json::json!({ "claimed_by": instance, "claimed_ago_seconds": ago.num_seconds(),
                                        "outbox_event_ids": claimed, "count": claimed.len() }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Tells the vendor to answer 503 to every fulfillment request. The worker's retries run out and the
/// engine raises an incident.
#[tracing::instrument(skip(pool, vendor), err(Display))]
pub async fn vendor_outage(pool: &PgPool, vendor: &VendorClient, actor: &str) -> Result<FaultRecord> {
    vendor_fault(pool, vendor, FaultType::VendorOutage, actor).await
}

/// A vendor fault: the vendor is put in the fault's mode until the fault ends —
/// - [`FaultType::VendorOutage`]: 503 to every request (an outage: retried, then an engine incident);
/// - [`FaultType::VendorPartial`]: every request accepted, only line 1 of each order ships, the others are
///   backordered until the fault ends (the order waits in PARTIALLY_FULFILLED, lesson §13.1);
/// - [`FaultType::VendorRejection`]: every request refused as a business answer (422, not retried: the
///   process takes its BPMN error path, §13.1, §23.2).
#[tracing::instrument(skip(pool, vendor), err(Display))]
pub async fn vendor_fault(pool: &PgPool, vendor: &VendorClient, fault: FaultType, actor: &str) -> Result<FaultRecord> {
    let (mode, name) = match fault {
        FaultType::VendorOutage => (VendorMode::Unavailable, "unavailable"),
        FaultType::VendorPartial => (VendorMode::Partial, "partial"),
        FaultType::VendorRejection => (VendorMode::Reject { status: None }, "reject"),
        other => return Err(Error::refused(format!("{} is not a vendor fault", other.name()))),
    };
    vendor
        .set_mode(mode)
        .await
        .map_err(|e| Error::refused(format!("the vendor did not take the {name} mode: {e}")))?;
    let mut conn = pool.acquire().await?;
    record_fault(
        &mut conn,
        NewFault {
            fault_type: fault,
            tenant_id: None,
            entity_type: Some("vendor"),
            entity_id: None,
            detail: serde_json::json!({ "vendor": vendor.base_url(), "mode": name }),
            injected_by: actor.to_string(),
        },
    )
    .await
}

/// Ends a vendor fault (outage, partial, rejection): the vendor answers normally again (backorders ship),
/// and the fault is ended.
#[tracing::instrument(skip(pool, vendor), err(Display))]
pub async fn end_vendor_fault(pool: &PgPool, vendor: &VendorClient, fault_id: Uuid, actor: &str) -> Result<FaultRecord> {
    vendor
        .set_mode(VendorMode::Ok)
        .await
        .map_err(|e| Error::refused(format!("the vendor did not take the ok mode: {e}")))?;
    end_fault(pool, fault_id, actor).await
}

/// Produces a record no consumer can parse to `<topic_prefix>order`: the projection consumer must
/// dead-letter it and carry on.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn poison_event(pool: &PgPool, brokers: &str, topic_prefix: &str, actor: &str) -> Result<FaultRecord> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::ClientConfig;

    let topic = crate::relay::topic_for(topic_prefix, crate::outbox::aggregate::ORDER);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "10000")
        .create()
        .map_err(|e| Error::refused(format!("cannot create a Kafka producer: {e}")))?;
    let key = Uuid::now_v7().to_string();
    let payload = format!("\u{0}poison {{ not json, injected by {actor} \u{fffd}");
    let delivery = producer
        .send(FutureRecord::to(&topic).key(&key).payload(&payload), StdDuration::from_secs(10))
        .await
        .map_err(|(e, _)| Error::refused(format!("Kafka did not take the poison record: {e}")))?;
    let mut conn = pool.acquire().await?;
    record_fault(
        &mut conn,
        NewFault {
            fault_type: FaultType::PoisonEvent,
            tenant_id: None,
            entity_type: Some("kafka_record"),
            entity_id: None,
            detail: serde_json::json!({ "topic": topic, "key": key, "partition": delivery.partition, "offset": delivery.offset }),
            injected_by: actor.to_string(),
        },
    )
    .await
}

/// A fresh quote for a fault to work on: one line, priced, in `tenant`.
async fn fault_quote(tx: &mut PgConnection, tenant: TenantId, discount_bp: i32, ctx: &CommandContext) -> Result<crate::ids::QuoteId> {
    let number = format!("Q-FAULT-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let created = create_quote(
        tx,
        &QuoteForCreate {
            tenant_id: tenant,
            quote_number: number,
            customer_name: "Fault Drill Customer".into(),
            currency: "EUR".into(),
            lines: vec![QuoteLineInput {
                product_sku: "DRILL-1".into(),
                description: "Fault drill item".into(),
                quantity: 1,
                unit_list_minor: 10_000,
                discount_bp,
            }],
        },
        ctx,
    )
    .await?;
    Ok(created.quote_id)
}

fn fault_ctx(fault: FaultType, actor: &str) -> CommandContext {
    CommandContext::new(actor).with_reason(format!("fault injection: {}", fault.name()))
}

/// An order whose process start was given up: a quote is accepted (the order is CAPTURED, its
/// `OrderCaptured` event and its start intent written) and, in the same transaction, the start is given
/// up through the starter's own door ([`give_up_start`]) — as if every attempt had failed. No starter
/// ever tries it; the order waits for the resume-orchestration repair, as a really given-up one does.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn order_without_process(pool: &PgPool, tenant: TenantId, actor: &str) -> Result<FaultRecord> {
    let ctx = fault_ctx(FaultType::OrderWithoutProcess, actor);
    let mut tx = pool.begin().await?;
    let quote = fault_quote(&mut tx, tenant, 0, &ctx).await?;
    apply_quote_command(&mut tx, tenant, quote, None, QuoteCommand::ApproveWithoutReview, &ctx).await?;
    let accepted = accept_quote(&mut tx, tenant, quote, &format!("fault-accept-{quote}"), &ctx).await?;
    let why = format!("fault injection {}: the start is given up without an attempt", FaultType::OrderWithoutProcess.name());
    give_up_start(&mut tx, accepted.order_id, &why, actor).await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::OrderWithoutProcess,
            tenant_id: Some(tenant),
            entity_type: Some("order"),
            entity_id: Some(accepted.order_id.as_uuid()),
            detail: serde_json::json!({ "order_number": accepted.order_number, "quote_id": quote,
                                        "process_start": "given up" }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// An approval nobody receives: a quote is submitted for approval under the tenant's active policy, then
/// the request is reassigned to nobody through the approval machine. Refused when the tenant has no
/// active policy.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn approval_without_assignee(pool: &PgPool, tenant: TenantId, actor: &str) -> Result<FaultRecord> {
    let ctx = fault_ctx(FaultType::ApprovalWithoutAssignee, actor);
    let mut tx = pool.begin().await?;
    let policy = active_policy(&mut tx, tenant)
        .await?
        .ok_or_else(|| Error::refused(format!("tenant {tenant} has no active approval policy")))?;
    let quote = fault_quote(&mut tx, tenant, 10_000.min(policy.max_discount_bp + 500), &ctx).await?;
    let requested = request_approval(&mut tx, tenant, quote, &policy, &ctx).await?;
    reassign(&mut tx, requested.approval_request_id, None, None, &ctx).await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::ApprovalWithoutAssignee,
            tenant_id: Some(tenant),
            entity_type: Some("approval_request"),
            entity_id: Some(requested.approval_request_id.as_uuid()),
            detail: serde_json::json!({ "quote_id": quote, "previous_assignee": requested.assignee,
                                        "due_at": requested.due_at }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// A customer clicking "accept" twice: the quote is accepted once (committed), then accepted again with
/// another key. The second attempt must be refused; the record carries both attempts and the refusal
/// (`"refused": false` would mean a duplicate order was captured — the bug the drill looks for).
#[tracing::instrument(skip(pool), err(Display))]
pub async fn duplicate_acceptance(pool: &PgPool, tenant: TenantId, actor: &str) -> Result<FaultRecord> {
    let ctx = fault_ctx(FaultType::DuplicateAcceptance, actor);
    let mut tx = pool.begin().await?;
    let quote = fault_quote(&mut tx, tenant, 0, &ctx).await?;
    apply_quote_command(&mut tx, tenant, quote, None, QuoteCommand::ApproveWithoutReview, &ctx).await?;
    let first = accept_quote(&mut tx, tenant, quote, &format!("fault-accept-{quote}-1"), &ctx).await?;
    tx.commit().await?;

    let mut tx = pool.begin().await?;
    let second = accept_quote(&mut tx, tenant, quote, &format!("fault-accept-{quote}-2"), &ctx).await;
    let detail = match &second {
        Ok(dup) => serde_json::json!({ "quote_id": quote, "first_order_id": first.order_id, "refused": false,
                                       "duplicate_order_id": dup.order_id }),
        Err(e) => serde_json::json!({ "quote_id": quote, "first_order_id": first.order_id, "refused": true,
                                      "refusal": e.to_string() }),
    };
    match second {
        // A duplicate order is evidence too: keep it, so the drill has something to find.
        Ok(_) => {}
        Err(_) => {
            tx.rollback().await?;
            tx = pool.begin().await?;
        }
    }
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::DuplicateAcceptance,
            tenant_id: Some(tenant),
            entity_type: Some("quote"),
            entity_id: Some(quote.as_uuid()),
            detail,
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// The drill tenant: where failure drills break things, away from customers' data. Created on first use
/// with an approval policy of its own (reviews by `drill-approvers` within 60 minutes).
pub const DRILL_TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(0x30000000_0000_4000_8000_000000000001));

/// Makes sure the drill tenant and its approval policy exist.
pub async fn ensure_drill_tenant(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into platform.tenant (tenant_id, slug, name, tier) values ($1, 'drill', 'Drill practice', 'TRIAL')
         on conflict (tenant_id) do nothing",
    )
    .bind(DRILL_TENANT)
    .execute(&mut *tx)
    .await?;
    if active_policy(&mut tx, DRILL_TENANT).await?.is_none() {
        sqlx::query(
            "insert into cpq.approval_policy (policy_id, policy_version, tenant_id, name, max_discount_pct, max_total_minor,
                                              approver_group, sla_minutes, created_by)
             values ($1, 1, $2, 'standard', 10, 5000000, 'drill-approvers', 60, 'drill-setup')",
        )
        .bind(Uuid::now_v7())
        .bind(DRILL_TENANT)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A session holding a row lock on a new order for up to `hold`: the platform's own work on that order
/// (its orchestration start, its worker) waits behind it, and `pg_stat_activity` shows who blocks whom —
/// lesson §14. The holder runs on a connection of its own named `opsdeck-fault-lock-<fault id>`, so the
/// diagnostics can name it and [`end_any`] can end exactly it. It lets go by itself after `hold`.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn lock_contention(pool: &PgPool, tenant: TenantId, hold: StdDuration, actor: &str) -> Result<FaultRecord> {
    let ctx = fault_ctx(FaultType::LockContention, actor);
    let mut tx = pool.begin().await?;
    let quote = fault_quote(&mut tx, tenant, 0, &ctx).await?;
    apply_quote_command(&mut tx, tenant, quote, None, QuoteCommand::ApproveWithoutReview, &ctx).await?;
    let accepted = accept_quote(&mut tx, tenant, quote, &format!("fault-accept-{quote}"), &ctx).await?;
    let application_name = format!("opsdeck-fault-lock-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::LockContention,
            tenant_id: Some(tenant),
            entity_type: Some("order"),
            entity_id: Some(accepted.order_id.as_uuid()),
            detail: serde_json::json!({ "order_number": accepted.order_number, "application_name": application_name,
                                        "hold_seconds": hold.as_secs(), "table": "oms.sales_order" }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    // Take the lock before the order is visible to the starter: the holder commits nothing.
    let mut holder = pool.acquire().await?.detach();
    sqlx::query(&format!("set application_name = '{application_name}'")).execute(&mut holder).await?;
    sqlx::query("begin").execute(&mut holder).await?;
    tx.commit().await?;
    sqlx::query("select 1 from oms.sales_order where order_id = $1 for update")
        .bind(accepted.order_id)
        .execute(&mut holder)
        .await?;
    let order_id = accepted.order_id;
    tokio::spawn(async move {
        let held = sqlx::query("select pg_sleep($1)").bind(hold.as_secs_f64()).execute(&mut holder).await;
        let _ = sqlx::query("rollback").execute(&mut holder).await;
        let _ = sqlx::Connection::close(holder).await;
        tracing::info!(%order_id, ended_early = held.is_err(), "fault lock released");
    });
    Ok(record)
}

/// Redis stops answering for `outage` (`CLIENT PAUSE … ALL`: every client's commands wait, as when Redis
/// hangs) — the price book and the console's rate limits must fall back to PostgreSQL and lose nothing.
/// Ends by itself after `outage`, or at once through [`end_any`] (`CLIENT UNPAUSE`).
#[tracing::instrument(skip(pool, redis_url), err(Display))]
pub async fn redis_outage(pool: &PgPool, redis_url: &str, outage: StdDuration, actor: &str) -> Result<FaultRecord> {
    let mut conn = pool.acquire().await?;
    let record = record_fault(
        &mut conn,
        NewFault {
            fault_type: FaultType::RedisOutage,
            tenant_id: None,
            entity_type: Some("redis"),
            entity_id: None,
            detail: serde_json::json!({ "command": "CLIENT PAUSE ALL", "outage_seconds": outage.as_secs() }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    redis_command(redis_url, redis::cmd("CLIENT").arg("PAUSE").arg(outage.as_millis() as u64).arg("ALL")).await?;
    Ok(record)
}

/// An approval whose SLA has already passed: a quote is submitted for approval under the tenant's active
/// policy, its clock started `overdue` ago — as if the approver group had left it in the queue. The
/// platform's approval timer must escalate it, and the dashboards must show it overdue.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn approval_sla_breach(pool: &PgPool, tenant: TenantId, overdue: StdDuration, actor: &str) -> Result<FaultRecord> {
    let ctx = fault_ctx(FaultType::ApprovalSlaBreach, actor);
    let mut tx = pool.begin().await?;
    let mut policy = active_policy(&mut tx, tenant)
        .await?
        .ok_or_else(|| Error::refused(format!("tenant {tenant} has no active approval policy")))?;
    let quote = fault_quote(&mut tx, tenant, 10_000.min(policy.max_discount_bp + 500), &ctx).await?;
    // The request's clock, started long enough ago that its due time has passed.
    policy.sla_minutes = -((overdue.as_secs() / 60).max(1) as i32);
    let requested = request_approval(&mut tx, tenant, quote, &policy, &ctx).await?;
    let record = record_fault(
        &mut tx,
        NewFault {
            fault_type: FaultType::ApprovalSlaBreach,
            tenant_id: Some(tenant),
            entity_type: Some("approval_request"),
            entity_id: Some(requested.approval_request_id.as_uuid()),
            detail: serde_json::json!({ "quote_id": quote, "assignee": requested.assignee, "due_at": requested.due_at }),
            injected_by: actor.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// A normal order in `tenant`, accepted as a customer would: the platform orchestrates it. What a drill
/// needs when the fault is elsewhere (the vendor) and an order must run into it.
pub async fn drill_order(pool: &PgPool, tenant: TenantId, actor: &str) -> Result<crate::command::AcceptedQuote> {
    let ctx = CommandContext::new(actor).with_reason("failure drill order");
    let mut tx = pool.begin().await?;
    let quote = fault_quote(&mut tx, tenant, 0, &ctx).await?;
    apply_quote_command(&mut tx, tenant, quote, None, QuoteCommand::ApproveWithoutReview, &ctx).await?;
    let accepted = accept_quote(&mut tx, tenant, quote, &format!("drill-accept-{quote}"), &ctx).await?;
    tx.commit().await?;
    Ok(accepted)
}
