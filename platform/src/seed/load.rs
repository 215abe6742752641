//! The database side of a seed run: bookkeeping rows, bulk COPY of each batch, and the finishing touches.

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::generate::CrashedRelay;
use super::rows::{TableBuf, TRAILER};

/// COPY data is sent in pieces of this size, so no single protocol message holds a whole table's batch.
const CHUNK: usize = 1 << 20;

/// Serialises seed runs: run numbers (and so quote and order numbers) are handed out one run at a time.
const SEED_LOCK: &str = "select pg_advisory_lock(hashtext('platform.seed'))";

pub(super) async fn lock(conn: &mut PgConnection) -> crate::Result<()> {
    sqlx::query(SEED_LOCK).execute(conn).await?;
    Ok(())
}

/// The next run number: one more than the highest recorded (a failed run keeps its number).
pub(super) async fn next_run_no(conn: &mut PgConnection) -> crate::Result<u32> {
    let n: i64 = sqlx::query_scalar("select coalesce(max((params->>'run_no')::bigint), 0) + 1 from platform.seed_run")
        .fetch_one(conn)
        .await?;
    Ok(n as u32)
}

pub(super) async fn start_run(
    conn: &mut PgConnection,
    seed_run_id: Uuid,
    params: serde_json::Value,
) -> crate::Result<()> {
    sqlx::query("insert into platform.seed_run (seed_run_id, params) values ($1, $2)")
        .bind(seed_run_id)
        .bind(params)
        .execute(conn)
        .await?;
    Ok(())
}

/// Next Kafka offset per (topic, partition) for the seed's topics, after whatever is recorded already.
pub(super) async fn kafka_next(conn: &mut PgConnection) -> crate::Result<[[i64; 3]; 2]> {
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "select kafka_topic, kafka_partition, max(kafka_offset)
         from messaging.outbox_event
         where kafka_topic in ('opsdeck.quote', 'opsdeck.order') and kafka_partition between 0 and 2
           and kafka_offset is not null
         group by kafka_topic, kafka_partition",
    )
    .fetch_all(conn)
    .await?;
    let mut next = [[0_i64; 3]; 2];
    for (topic, partition, max) in rows {
        let t = usize::from(topic == "opsdeck.order");
        next[t][partition as usize] = max + 1;
    }
    Ok(next)
}

/// Each batch is copied on three connections at once, so PostgreSQL works on several cores:
/// quotes and approvals (foreign keys among themselves), orders with their lines, history, fulfilment
/// and projection (orders do not reference quotes by foreign key), and the outbox with the anomaly
/// records (no foreign keys to rows of the batch). Each lane commits its own transaction.
pub(super) fn lane(table: &str) -> usize {
    match table {
        "cpq.quote"
        | "cpq.quote_line"
        | "cpq.quote_transition"
        | "cpq.approval_request"
        | "cpq.approval_transition" => 0,
        "messaging.outbox_event" | "platform.seed_anomaly" => 2,
        _ => 1,
    }
}

/// Copies some tables of a batch, in the given (foreign-key) order, in one transaction.
pub(super) async fn copy_tables<'a>(
    conn: &mut PgConnection,
    tables: impl Iterator<Item = &'a TableBuf>,
) -> crate::Result<()> {
    let mut tx = conn.begin().await?;
    for table in tables.filter(|t| t.rows > 0) {
        let t0 = std::time::Instant::now();
        let mut copy = tx.copy_in_raw(&table.copy_statement()).await?;
        for chunk in table.buf.chunks(CHUNK) {
            copy.send(chunk).await?;
        }
        copy.send(&TRAILER[..]).await?;
        let copied = copy.finish().await?;
        debug_assert_eq!(copied, table.rows, "{}", table.table);
        let elapsed_ms = t0.elapsed().as_millis() as u64;
        tracing::debug!(table = table.table, rows = copied, bytes = table.buf.len(), elapsed_ms, "seed copy");
    }
    tx.commit().await?;
    Ok(())
}

/// The dead relay instances left heartbeats that stopped right after their last claim, still saying
/// "running" (they died without a word): the evidence runbook 12.3 asks for before a claim is released.
pub(super) async fn record_crashed_relays<'a>(
    conn: &mut PgConnection,
    relays: impl Iterator<Item = &'a CrashedRelay>,
) -> crate::Result<u64> {
    let mut n = 0;
    for r in relays {
        let done = sqlx::query(
            "insert into platform.worker_heartbeat (instance_id, worker_kind, started_at, last_beat_at, detail)
             values ($1, 'outbox-relay', to_timestamp($2::double precision / 1000),
                     to_timestamp($3::double precision / 1000), '{\"state\": \"running\", \"seeded\": true, \"topic_prefix\": \"opsdeck.\"}')
             on conflict (instance_id) do nothing",
        )
        .bind(&r.instance_id)
        .bind(r.first_claim_ms - 3_600_000)
        .bind(r.last_claim_ms + 3_000)
        .execute(&mut *conn)
        .await?;
        n += done.rows_affected();
    }
    Ok(n)
}

/// The run's CAPTURED orders get the start the capture would have recorded: the stuck ones (anomalies)
/// a start the starter gave up after its attempts while the engine was unreachable, the young ones a
/// pending start, due — a running starter carries them out. Orders past CAPTURED carry none (seeded
/// history predates durable starts). Uses `ix_sales_order_active_updated`.
pub(super) async fn record_orchestration_starts(conn: &mut PgConnection, seed_run_id: Uuid, run_no: u32) -> crate::Result<u64> {
    let attempts = crate::orchestration::StarterConfig::new("seed").max_attempts;
    let done = sqlx::query(
        "insert into oms.orchestration_start
           (order_id, tenant_id, status, attempts, next_attempt_at, last_attempt_at, last_error, settled_by,
            settled_at, reason, created_at)
         select o.order_id, o.tenant_id,
                case when a.entity_id is null then 'PENDING' else 'GAVE_UP' end,
                case when a.entity_id is null then 0 else $3 end,
                case when a.entity_id is null then o.created_at end,
                case when a.entity_id is not null then least(o.created_at + interval '8 minutes', now()) end,
                case when a.entity_id is not null then 'process engine unreachable: connection refused (seeded)' end,
                case when a.entity_id is not null then 'seed' end,
                case when a.entity_id is not null then least(o.created_at + interval '8 minutes', now()) end,
                case when a.entity_id is not null then format(
                  'gave up after %s attempts; last error: process engine unreachable: connection refused (seeded)', $3)
                end,
                o.created_at
         from oms.sales_order o
         left join platform.seed_anomaly a
           on a.seed_run_id = $1 and a.anomaly_type = 'STUCK_ORDER' and a.entity_id = o.order_id
         where o.status = 'CAPTURED' and o.origin = 'PLATFORM' and o.order_number like $2",
    )
    .bind(seed_run_id)
    .bind(format!("SO-{run_no}-%"))
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn finish_run(
    conn: &mut PgConnection,
    seed_run_id: Uuid,
    counts: serde_json::Value,
) -> crate::Result<()> {
    sqlx::query("update platform.seed_run set counts = $2, finished_at = now() where seed_run_id = $1")
        .bind(seed_run_id)
        .bind(counts)
        .execute(conn)
        .await?;
    Ok(())
}

/// Fresh statistics, so the detectors' queries plan for the bulk-loaded sizes right away.
pub(super) async fn analyze(conn: &mut PgConnection) -> crate::Result<()> {
    sqlx::query(
        "analyze cpq.quote, cpq.quote_line, cpq.quote_transition, cpq.approval_request, cpq.approval_transition,
                 oms.sales_order, oms.sales_order_line, oms.order_transition, oms.fulfillment_request,
                 oms.order_projection, oms.orchestration_start, messaging.outbox_event, platform.seed_anomaly",
    )
    .execute(conn)
    .await?;
    Ok(())
}
