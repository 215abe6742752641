//! Projection consumer throughput: puts N valid order events on a fresh order topic, then runs the
//! projection consumer against a scratch database and reports events/s from Kafka into PostgreSQL
//! (parse → inbox row + projection upsert in one transaction → offset commit, end to end).
//! Not a test: numbers depend on the machine. `bench/projection.sh` builds and runs it.
//!
//! ```text
//! cargo run --release -p platform --example projection_bench -- [--events 100000] [--per-aggregate 4]
//!     [--partitions 3] [--pad-bytes 0] [--stall-secs 60] [--keep]
//! ```
//! `DATABASE_URL` names the server (the scratch database `opsdeck_projection_bench` is created beside it
//! and dropped afterwards unless `--keep`); `OPSDECK_KAFKA_BROKERS` the broker (default 127.0.0.1:59092).
//! Progress goes to stderr; the result is one JSON object on stdout.
//!
//! The records are the relay's (same key, headers and payloads as `command::quote::accept_quote` and
//! `command::order::apply_order_command` write): N / per-aggregate orders, each OrderCaptured (v1) then
//! OrderStatusChanged (v2, v3, …), keyed by order id, with the versions interleaved in time (all
//! version-1 events, then all version-2 events, …) as in a live system. They are produced (acks=all,
//! idempotent) BEFORE the clock starts; the clock then runs from the consumer's start (fresh group,
//! `auto.offset.reset=earliest`) until `messaging.inbox_message` holds all N (counted every 200 ms).
//! At the end every order's projection row must be at version per-aggregate.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use platform::events::{Event, OrderCaptured, OrderStatusChanged};
use platform::ids::{OrderId, QuoteId, TenantId};
use platform::order::{OrderCommand, OrderStatus};
use platform::projection::{ProjectionConfig, ProjectionConsumer};
use platform::relay::{header, topic_for};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;
use uuid::Uuid;

const SCRATCH_DB: &str = "opsdeck_projection_bench";

/// An order's journey after capture: (command, from, to), as in `platform::order::Order`.
const TRANSITIONS: [(OrderCommand, OrderStatus, OrderStatus); 4] = [
    (OrderCommand::StartOrchestration, OrderStatus::Captured, OrderStatus::Orchestrating),
    (OrderCommand::BeginFulfillment, OrderStatus::Orchestrating, OrderStatus::InProgress),
    (OrderCommand::RecordPartialFulfillment, OrderStatus::InProgress, OrderStatus::PartiallyFulfilled),
    (OrderCommand::CompleteFulfillment, OrderStatus::PartiallyFulfilled, OrderStatus::Fulfilled),
];

/// Records produced per round of concurrent sends (below librdkafka's 100 000-message queue).
const PRODUCE_CHUNK: u64 = 20_000;

struct Args {
    events: u64,
    per_aggregate: u64,
    partitions: i32,
    pad_bytes: u64,
    stall_secs: u64,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { events: 100_000, per_aggregate: 4, partitions: 3, pad_bytes: 0, stall_secs: 60, keep: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--keep" {
            args.keep = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--events" => args.events = value.parse().map_err(bad)?,
            "--per-aggregate" => args.per_aggregate = value.parse().map_err(bad)?,
            "--partitions" => args.partitions = value.parse().map_err(bad)?,
            "--pad-bytes" => args.pad_bytes = value.parse().map_err(bad)?,
            "--stall-secs" => args.stall_secs = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.events == 0 || args.partitions < 1 || args.stall_secs == 0 {
        return Err("--events, --partitions and --stall-secs must be positive".into());
    }
    if !(1..=1 + TRANSITIONS.len() as u64).contains(&args.per_aggregate) {
        return Err(format!("--per-aggregate must be 1 to {} (capture + the order's transitions)", 1 + TRANSITIONS.len()));
    }
    if args.events % args.per_aggregate != 0 {
        return Err("--events must be a multiple of --per-aggregate (every order gets all its versions)".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let brokers = std::env::var("OPSDECK_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:59092".into());
    let orders = args.events / args.per_aggregate;

    // A scratch database, so the benchmark never touches real projection or inbox rows.
    let server: PgConnectOptions = url.parse()?;
    let mut admin_db = server.connect().await?;
    sqlx::query(&format!("drop database if exists {SCRATCH_DB} with (force)")).execute(&mut admin_db).await?;
    sqlx::query(&format!("create database {SCRATCH_DB}")).execute(&mut admin_db).await?;
    let pool = PgPoolOptions::new().max_connections(4).connect_with(server.clone().database(SCRATCH_DB)).await?;
    platform::db::MIGRATOR.run(&pool).await?;

    // A fresh topic and group: the consumer starts from the first record (earliest), with no history.
    let run = format!("{}.{}", Utc::now().format("%Y%m%d%H%M%S"), &Uuid::now_v7().simple().to_string()[24..]);
    let prefix = format!("bench.projection.{run}.");
    let group = format!("bench-projection-{run}");
    let config = ProjectionConfig {
        group_id: group.clone(),
        topic_prefix: prefix.clone(),
        metadata_refresh: Duration::from_secs(1),
        ..ProjectionConfig::new(ProjectionConfig::generate_instance_id(), brokers.clone())
    };
    let topic = topic_for(&prefix, "order");
    let dead_letter_topic = config.dead_letter_topic();
    let kafka_admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &brokers).create()?;
    kafka_admin
        .create_topics(&[NewTopic::new(&topic, args.partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await?;

    let produced = Instant::now();
    let payload_bytes = produce(&brokers, &topic, &args).await?;
    let produce_seconds = produced.elapsed().as_secs_f64();
    let avg_payload = payload_bytes as f64 / args.events as f64;
    eprintln!(
        "produced {} events ({orders} orders × {}) to {topic} in {produce_seconds:.1} s (avg payload {avg_payload:.0} bytes)",
        args.events, args.per_aggregate
    );

    let (stop, shutdown) = watch::channel(false);
    let started = Instant::now();
    let consumer = ProjectionConsumer::new(pool.clone(), config)?;
    let running = tokio::spawn(consumer.run(shutdown));
    let mut last_report = Instant::now();
    let mut last_progress = (0i64, Instant::now());
    let mut stalled = false;
    loop {
        let inbox: i64 = sqlx::query_scalar("select count(*) from messaging.inbox_message where consumer_group = $1")
            .bind(&group)
            .fetch_one(&pool)
            .await?;
        if inbox >= args.events as i64 {
            break;
        }
        if inbox > last_progress.0 {
            last_progress = (inbox, Instant::now());
        } else if last_progress.1.elapsed() >= Duration::from_secs(args.stall_secs) {
            eprintln!("  no progress for {} s at {inbox} inbox rows; giving up", args.stall_secs);
            stalled = true;
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            eprintln!("  {inbox} in the inbox after {:.1} s", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.send(true)?;
    let counts = running.await?;

    let inbox_rows: i64 = sqlx::query_scalar("select count(*) from messaging.inbox_message where consumer_group = $1")
        .bind(&group)
        .fetch_one(&pool)
        .await?;
    let (projection_rows, at_final_version): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where aggregate_version = $1) from oms.order_projection",
    )
    .bind(args.per_aggregate as i64)
    .fetch_one(&pool)
    .await?;
    let rate = args.events as f64 / seconds;
    eprintln!(
        "projection: {} events in {seconds:.2} s = {rate:.0} events/s ({} projected, {} stale, {} duplicates, {} dead-lettered, {} errors)",
        args.events, counts.projected, counts.stale, counts.duplicates, counts.dead_lettered, counts.errors
    );

    let result = serde_json::json!({
        "events": args.events,
        "orders": orders,
        "per_aggregate": args.per_aggregate,
        "inbox_rows": inbox_rows,
        "projection_rows": projection_rows,
        "projection_rows_at_final_version": at_final_version,
        "seconds": seconds,
        "events_per_sec": rate,
        "produce_seconds": produce_seconds,
        "avg_payload_bytes": avg_payload.round(), "pad_bytes": args.pad_bytes,
        "partitions": args.partitions,
        "topic": topic,
        "consumer_group": group,
        "processed": counts.processed,
        "projected": counts.projected,
        "stale": counts.stale,
        "duplicates": counts.duplicates,
        "dead_lettered": counts.dead_lettered,
        "errors": counts.errors,
        "last_error": counts.last_error,
    });
    println!("{result}");

    if !args.keep {
        pool.close().await;
        let opts = AdminOptions::new();
        let _ = kafka_admin.delete_topics(&[topic.as_str(), dead_letter_topic.as_str()], &opts).await;
        let _ = kafka_admin.delete_groups(&[group.as_str()], &opts).await;
        sqlx::query(&format!("drop database if exists {SCRATCH_DB} with (force)")).execute(&mut admin_db).await?;
    }
    admin_db.close().await?;
    if stalled || inbox_rows != args.events as i64 {
        return Err(format!("{inbox_rows} inbox rows, expected {}", args.events).into());
    }
    if projection_rows != orders as i64 || at_final_version != orders as i64 {
        return Err(format!(
            "{projection_rows} projection rows ({at_final_version} at version {}), expected {orders} all at that version",
            args.per_aggregate
        )
        .into());
    }
    Ok(())
}

/// One event as the relay would publish it.
struct Record {
    key: String,
    event_id: String,
    event_type: &'static str,
    tenant_id: String,
    version: String,
    correlation_id: String,
    payload: Vec<u8>,
}

/// Record `g` of `args.events`: order `g % orders` at version `g / orders + 1`.
fn record(g: u64, orders: u64, pad_bytes: u64, occurred_at: DateTime<Utc>) -> Record {
    let n = g % orders;
    let version = g / orders + 1;
    let order_id = Uuid::parse_str(&format!("00000000-0000-4000-8000-{n:012x}")).expect("a valid UUID");
    let tenant_id = Uuid::parse_str(&format!("10000000-0000-4000-8000-00000000000{}", 1 + n % 4)).expect("a valid UUID");
    let order_number = format!("SO-{n}");
    let (order_id, tenant_id) = (OrderId::from_uuid(order_id), TenantId::from_uuid(tenant_id));
    let event = if version == 1 {
        Event::OrderCaptured(OrderCaptured {
            order_id,
            tenant_id,
            order_number,
            source_quote_id: QuoteId::from_uuid(Uuid::new_v4()),
            status: OrderStatus::Captured,
            version: 1,
            total_minor: 27_499,
            currency: "EUR".into(),
            line_count: 1,
            occurred_at,
        })
    } else {
        let (command, from_status, status) = TRANSITIONS[(version - 2) as usize];
        Event::OrderStatusChanged(OrderStatusChanged {
            order_id,
            tenant_id,
            order_number,
            command,
            from_status,
            status,
            version: version as i64,
            total_minor: 27_499,
            currency: "EUR".into(),
            occurred_at,
        })
    };
    let mut payload = serde_json::to_value(&event).expect("an event serialises");
    if pad_bytes > 0 {
        payload["note"] = serde_json::Value::String("x".repeat(pad_bytes as usize));
    }
    Record {
        key: order_id.to_string(),
        event_id: Uuid::new_v4().to_string(),
        event_type: event.event_type(),
        tenant_id: tenant_id.to_string(),
        version: version.to_string(),
        correlation_id: Uuid::new_v4().to_string(),
        payload: serde_json::to_vec(&payload).expect("JSON serialises"),
    }
}

/// Produces every event (acks=all, idempotent, so per-key order holds) and waits for all
/// acknowledgements. Returns the total payload bytes.
async fn produce(brokers: &str, topic: &str, args: &Args) -> Result<u64, Box<dyn std::error::Error>> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("client.id", "projection-bench-producer")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "131072")
        .set("message.timeout.ms", "60000")
        .set("log_level", "3")
        .create()?;
    let orders = args.events / args.per_aggregate;
    let occurred_at = Utc::now();
    let mut payload_bytes = 0u64;
    let mut from = 0u64;
    while from < args.events {
        let to = (from + PRODUCE_CHUNK).min(args.events);
        let events: Vec<Record> = (from..to).map(|g| record(g, orders, args.pad_bytes, occurred_at)).collect();
        payload_bytes += events.iter().map(|e| e.payload.len() as u64).sum::<u64>();
        let sends = events.iter().map(|e| {
            let headers = OwnedHeaders::new_with_capacity(7)
                .insert(Header { key: header::EVENT_ID, value: Some(&e.event_id) })
                .insert(Header { key: header::EVENT_TYPE, value: Some(e.event_type) })
                .insert(Header { key: header::TENANT_ID, value: Some(&e.tenant_id) })
                .insert(Header { key: header::AGGREGATE_TYPE, value: Some("order") })
                .insert(Header { key: header::AGGREGATE_VERSION, value: Some(&e.version) })
                .insert(Header { key: "correlation_id", value: Some(&e.correlation_id) })
                .insert(Header { key: "schema_version", value: Some("1") });
            let record = FutureRecord::to(topic).key(&e.key).payload(&e.payload).headers(headers);
            producer.send(record, Duration::from_secs(60))
        });
        for result in join_all(sends).await {
            result.map_err(|(error, _)| format!("produce failed: {error}"))?;
        }
        from = to;
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(payload_bytes)
}
