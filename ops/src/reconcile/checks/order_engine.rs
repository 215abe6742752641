//! Order ↔ engine (lesson §17.1, §13.3): an active order whose durable start (`oms.orchestration_start`)
//! says STARTED has exactly one active process instance under `tenantId:orderId`; a terminal order has
//! none. The engine's active instances are read through its REST API, page by page, and compared with the
//! orders in one set-based query.
//!
//! An order whose start the starter gave up (GAVE_UP) has no instance either: reported as such, at once
//! (the stuck-order detector would wait 30 minutes). What it does not judge, honestly, nor count as
//! examined: whether an order without a durable start (seeded history) or whose start is still PENDING
//! (the starter owns those) has its instance — only that it has at most one —, and instances whose
//! business key names no order of this database (the engine may serve other databases; nothing here says
//! they are wrong).
//!
//! The engine's instances are read in one request when they fit in [`SNAPSHOT`] (one query in the engine:
//! a consistent picture, read before the orders, whose grace spares anything started since). Only when
//! there are more are they read page by page, and then a missing instance is confirmed by its business key
//! before it is reported: an instance can move between pages (another ended before it), and the engine
//! answers one key per request, so that costs a round trip per missing instance. Read in one snapshot, the
//! instances go to the statement as parameters and a run compares it with the open mismatches in one
//! statement, like an SQL check's ([`source`]); confirmed one by one, the findings are made first.

use futures::{StreamExt as _, TryStreamExt as _};
use platform::engine::{BusinessKey, EngineClient, ORDER_ORCHESTRATION_KEY};
use platform::ids::{OrderId, TenantId};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::reconcile::model::{CheckInfo, CheckName, Examined, Kind, Safety, Scope};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::OrderEngine,
    title: "Order ↔ engine",
    compares: "orders whose orchestration started against the engine's active process instances (by business key)",
    lesson: "§17.1, §13.3",
    kinds: &[
        Kind {
            name: "ORDER_WITHOUT_PROCESS",
            likely_cause: "the process instance ended or was deleted while the order is still active",
            suggested_action: "resume the order's orchestration (CAPTURED or ORCHESTRATING orders); otherwise runbook stuck-order",
            safety: Safety::Caution,
            auto_repair: false,
            repair: Some(RepairType::ResumeOrchestration),
        },
        Kind {
            name: "ORCHESTRATION_START_GAVE_UP",
            likely_cause: "the starter gave up starting the order's process (the engine was unreachable for all its \
                           attempts): the order is CAPTURED and no instance drives it",
            suggested_action: "resume the order's orchestration once the engine answers (runbook stuck-order)",
            safety: Safety::Caution,
            auto_repair: false,
            repair: Some(RepairType::ResumeOrchestration),
        },
        Kind {
            name: "DUPLICATE_PROCESS",
            likely_cause: "two active instances for one tenantId:orderId: a start retried without its durable record",
            suggested_action: "the platform owner terminates the duplicate after reviewing the evidence",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "PROCESS_FOR_TERMINAL_ORDER",
            likely_cause: "the engine still drives an order that is FULFILLED, CANCELLED or FAILED",
            suggested_action: "the platform owner stops the instance before it requests fulfilment",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
    ],
    incremental: false,
    grace_secs: 120,
    jit: false,
    gather: false,
    fingerprint: false,
};

/// Instances read in the first request: all of them at once when they fit (a consistent snapshot).
pub const SNAPSHOT: u32 = 50_000;

/// Instances read per request after the first, when they did not fit.
pub const PAGE: u32 = 500;

/// Missing instances confirmed by business key at once (requests in flight to the engine).
const CONFIRMING: usize = 8;

const SQL: &str = "
with inst as (
  select i.order_id, i.tenant_id, count(*) as n, array_agg(i.instance_id order by i.instance_id) as ids
  from unnest($6::uuid[], $7::uuid[], $8::text[]) as i(order_id, tenant_id, instance_id)
  group by i.order_id, i.tenant_id
), c as (
  -- Active orders whose start is settled (STARTED, or GAVE_UP): one instance each, none when given up. From
  -- the starts, not every active order: the others are not judged, so not counted as examined either.
  select o.order_id, o.tenant_id, o.status, s.status as start_status, coalesce(inst.n, 0) as instances,
         coalesce(inst.ids, '{}') as instance_ids
  from oms.orchestration_start s
  join oms.sales_order o on o.order_id = s.order_id
  left join inst on inst.order_id = o.order_id and inst.tenant_id = o.tenant_id
  where s.status in ('STARTED', 'GAVE_UP') and o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
    -- The grace spares orders whose start may be in flight; a start given up is settled at once.
    and (o.updated_at < $4 - make_interval(secs => $5) or s.status = 'GAVE_UP')
    and ($1::uuid is null or o.tenant_id = $1) and ($2::uuid[] is null or o.order_id = any($2))
  union all
  -- Every other order the engine has an instance for: a terminal one is still driven; an active one whose
  -- start is not settled (PENDING, or seeded history without a start) has at most one.
  select o.order_id, o.tenant_id, o.status, s.status, inst.n, inst.ids
  from inst
  join oms.sales_order o on o.order_id = inst.order_id and o.tenant_id = inst.tenant_id
  left join oms.orchestration_start s on s.order_id = o.order_id
  where (o.status not in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
         or coalesce(s.status, '') not in ('STARTED', 'GAVE_UP'))
    and o.updated_at < $4 - make_interval(secs => $5)
    and ($1::uuid is null or o.tenant_id = $1) and ($2::uuid[] is null or o.order_id = any($2))
)
select 1::bigint, order_id,
       case when instances > 1
              or (instances >= 1 and status in ('FULFILLED', 'CANCELLED', 'FAILED'))
              or (instances = 0 and start_status in ('STARTED', 'GAVE_UP'))
       then json_build_object('entity_type', 'ORDER', 'entity_id', order_id, 'tenant_id', tenant_id,
           'kind', case when instances > 1 then 'DUPLICATE_PROCESS'
                        when instances >= 1 then 'PROCESS_FOR_TERMINAL_ORDER'
                        when start_status = 'GAVE_UP' then 'ORCHESTRATION_START_GAVE_UP'
                        else 'ORDER_WITHOUT_PROCESS' end,
           'expected', json_build_object('active_instances',
                         case when status in ('FULFILLED', 'CANCELLED', 'FAILED') then 0 else 1 end),
           'observed', json_build_object('active_instances', instances, 'instance_ids', instance_ids,
                                          'order_status', status, 'orchestration_start', start_status)) end
from c";

fn engine_error(error: platform::engine::EngineError) -> Error {
    crate::repair::catalogue::engine_error(error)
}

/// Active instances (order, tenant, instance id) of the scope — in one snapshot, page by page, or by each
/// entity's key — and whether they were read in one consistent request (by key: yes, each is its own).
async fn instances(
    db: &mut PgConnection,
    engine: &EngineClient,
    scope: &Scope,
    snapshot: u32,
) -> Result<(Vec<(Uuid, Uuid, String)>, bool)> {
    let mut found = Vec::new();
    let mut consistent = true;
    let keep = |i: platform::engine::ProcessInstance, out: &mut Vec<(Uuid, Uuid, String)>| {
        if i.ended {
            return;
        }
        if let Some((tenant, order)) = i.business_key.as_deref().and_then(BusinessKey::parse) {
            out.push((order.into(), tenant.into(), i.id));
        }
    };
    match &scope.entities {
        Some(ids) => {
            let orders: Vec<(Uuid, Uuid)> =
                sqlx::query_as("select order_id, tenant_id from oms.sales_order where order_id = any($1)")
                    .bind(ids)
                    .fetch_all(&mut *db)
                    .await?;
            for (order, tenant) in orders {
                let key = BusinessKey::for_order(TenantId::from_uuid(tenant), OrderId::from_uuid(order));
                for i in engine.instances_by_business_key(&key).await.map_err(engine_error)? {
                    keep(i, &mut found);
                }
            }
        }
        None => {
            let (mut first, mut max) = (0, snapshot);
            loop {
                let page = engine.instances_page(ORDER_ORCHESTRATION_KEY, first, max).await.map_err(engine_error)?;
                let n = page.len() as u32;
                for i in page {
                    keep(i, &mut found);
                }
                if n < max {
                    break;
                }
                consistent = false;
                first += n;
                max = PAGE;
            }
        }
    }
    found.sort();
    found.dedup();
    Ok((found, consistent))
}

pub async fn examine(db: &mut PgConnection, engine: Option<&EngineClient>, scope: &Scope, grace_secs: i64) -> Result<Examined> {
    examine_with_snapshot(db, engine, scope, grace_secs, SNAPSHOT).await
}

/// The engine's active instances of a scope, as the statement's `$6`–`$8` (order, tenant, instance id).
#[derive(Debug, Clone, Default)]
pub struct Instances {
    pub orders: Vec<Uuid>,
    pub tenants: Vec<Uuid>,
    pub ids: Vec<String>,
}

impl Instances {
    /// The statement's parameters they fill, after the common ones.
    pub(crate) const PARAMS: usize = 3;

    fn of(found: Vec<(Uuid, Uuid, String)>) -> Instances {
        let mut instances = Instances::default();
        for (order, tenant, id) in found {
            instances.orders.push(order);
            instances.tenants.push(tenant);
            instances.ids.push(id);
        }
        instances
    }
}

/// What a whole run compares with the open mismatches: when the engine's instances fit in one snapshot
/// (consistent), the statement itself with them — run inside the comparison, so only what is new or
/// changed is ever built into JSON, and the findings never travel through the console —; past
/// [`SNAPSHOT`], the findings [`examine`] made (each missing instance confirmed by its key).
pub(crate) async fn source(db: &mut PgConnection, engine: Option<&EngineClient>, scope: &Scope, grace_secs: i64) -> Result<super::Source> {
    let engine = engine.ok_or_else(no_engine)?;
    let (found, consistent) = instances(db, engine, scope, SNAPSHOT).await?;
    if consistent {
        return Ok(super::Source::Sql(SQL, Some(Instances::of(found))));
    }
    Ok(super::Source::Found(confirmed(db, engine, scope, grace_secs, found, consistent).await?))
}

fn no_engine() -> Error {
    Error::Unavailable {
        dependency: "process engine",
        detail: "this console has no engine configured, so the order ↔ engine check cannot run".into(),
    }
}

/// [`examine`] with the first request's size given: 0 reads every instance in pages and confirms each
/// missing one by its key (the path taken past [`SNAPSHOT`] instances; the tests take it on purpose).
pub async fn examine_with_snapshot(
    db: &mut PgConnection,
    engine: Option<&EngineClient>,
    scope: &Scope,
    grace_secs: i64,
    snapshot: u32,
) -> Result<Examined> {
    let engine = engine.ok_or_else(no_engine)?;
    let (found, consistent) = instances(db, engine, scope, snapshot).await?;
    confirmed(db, engine, scope, grace_secs, found, consistent).await
}

/// The statement's findings over the instances `found`; read in pages (not `consistent`), each missing
/// instance confirmed by its key.
async fn confirmed(
    db: &mut PgConnection,
    engine: &EngineClient,
    scope: &Scope,
    grace_secs: i64,
    found: Vec<(Uuid, Uuid, String)>,
    consistent: bool,
) -> Result<Examined> {
    let Instances { orders, tenants, ids } = Instances::of(found);
    let mut examined = super::run_sql(db, &INFO, SQL, scope, grace_secs, |q| q.bind(orders).bind(tenants).bind(ids)).await?;
    // Read in pages, a missing instance is confirmed by its key: paging may have missed one that moved
    // between pages. The engine answers one key per request, so the confirmations go [`CONFIRMING`] at a time.
    if !consistent {
        let confirmations = examined.findings.drain(..).map(|finding| async move {
            let unconfirmed = matches!(finding.kind.as_str(), "ORDER_WITHOUT_PROCESS" | "ORCHESTRATION_START_GAVE_UP");
            match finding.tenant_id.filter(|_| unconfirmed) {
                Some(tenant) => {
                    let key = BusinessKey::for_order(TenantId::from_uuid(tenant), OrderId::from_uuid(finding.entity_id));
                    let live = engine.instances_by_business_key(&key).await.map_err(engine_error)?;
                    Ok((!live.iter().any(|i| !i.ended)).then_some(finding))
                }
                None => Ok::<_, Error>(Some(finding)),
            }
        });
        let confirmed: Vec<Option<_>> = futures::stream::iter(confirmations.collect::<Vec<_>>())
            .buffered(CONFIRMING)
            .try_collect()
            .await?;
        examined.findings = confirmed.into_iter().flatten().collect();
    }
    Ok(examined)
}
