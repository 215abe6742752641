//! Outbox relay throughput: fills a scratch database with N pending events, runs the relay against the
//! broker and reports events/s into Kafka (claim → publish with acks=all → mark PUBLISHED, end to end).
//! Not a test: numbers depend on the machine. `bench/relay.sh` runs it next to Kafka's own
//! producer perf tool with the same acks and batching.
//!
//! ```text
//! cargo run --release -p platform --example relay_bench -- [--events 100000] [--batch 500]
//!     [--per-aggregate 4] [--instances 1] [--lanes 2] [--pad-bytes 0] [--linger-ms 5] [--batch-bytes 131072] [--keep]
//! ```
//! `DATABASE_URL` names the server (the scratch database `opsdeck_relay_bench` is created beside it and
//! dropped afterwards unless `--keep`); `OPSDECK_KAFKA_BROKERS` the broker (default 127.0.0.1:59092).
//! Progress goes to stderr; the result is one JSON object on stdout.
//!
//! Events are spread over N / per-aggregate order aggregates with their versions interleaved in time
//! (all version-1 events, then all version-2 events, …) — as in a live system, where one order's
//! events are minutes apart — so every batch holds distinct aggregates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use platform::relay::{topic_for, Relay, RelayConfig, RelayStats};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::watch;

const SCRATCH_DB: &str = "opsdeck_relay_bench";

struct Args {
    events: u64,
    batch: u32,
    per_aggregate: u64,
    instances: u32,
    lanes: u32,
    pad_bytes: u64,
    linger_ms: u64,
    batch_bytes: u32,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        events: 100_000,
        batch: 500,
        per_aggregate: 4,
        instances: 1,
        lanes: RelayConfig::new("", "").lanes,
        pad_bytes: 0,
        linger_ms: 5,
        batch_bytes: 131_072,
        keep: false,
    };
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
            "--batch" => args.batch = value.parse().map_err(bad)?,
            "--per-aggregate" => args.per_aggregate = value.parse().map_err(bad)?,
            "--instances" => args.instances = value.parse().map_err(bad)?,
            "--lanes" => args.lanes = value.parse().map_err(bad)?,
            "--pad-bytes" => args.pad_bytes = value.parse().map_err(bad)?,
            "--linger-ms" => args.linger_ms = value.parse().map_err(bad)?,
            "--batch-bytes" => args.batch_bytes = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.events == 0 || args.per_aggregate == 0 || args.instances == 0 {
        return Err("--events, --per-aggregate and --instances must be positive".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let brokers = std::env::var("OPSDECK_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:59092".into());

    // A scratch database, so the benchmark never touches real outbox rows.
    let server: PgConnectOptions = url.parse()?;
    let mut admin_db = server.connect().await?;
    sqlx::query(&format!("drop database if exists {SCRATCH_DB} with (force)")).execute(&mut admin_db).await?;
    sqlx::query(&format!("create database {SCRATCH_DB}")).execute(&mut admin_db).await?;
    let pool = PgPoolOptions::new()
        .max_connections((args.lanes + 1) * args.instances + 2)
        .connect_with(server.clone().database(SCRATCH_DB))
        .await?;
    platform::db::migrate(&pool).await?;

    let filled = Instant::now();
    fill(&pool, &args).await?;
    sqlx::query("analyze messaging.outbox_event").execute(&pool).await?;
    let avg_payload: f64 = sqlx::query_scalar("select avg(octet_length(payload::text))::float8 from messaging.outbox_event")
        .fetch_one(&pool)
        .await?;
    eprintln!("filled {} pending events in {:.1} s (avg payload {avg_payload:.0} bytes)", args.events, filled.elapsed().as_secs_f64());

    // The topic exists before the clock starts, as the perf tool's does.
    let prefix = format!("bench.relay.{}.", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let topic = topic_for(&prefix, "order");
    let kafka_admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &brokers).create()?;
    kafka_admin
        .create_topics(&[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await?;

    let (stop, shutdown) = watch::channel(false);
    let mut relays = Vec::new();
    let mut stats: Vec<Arc<RelayStats>> = Vec::new();
    let started = Instant::now();
    for i in 0..args.instances {
        let config = RelayConfig {
            topic_prefix: prefix.clone(),
            batch_size: args.batch,
            lanes: args.lanes,
            poll_interval: Duration::from_millis(20),
            linger: Duration::from_millis(args.linger_ms),
            batch_bytes: args.batch_bytes,
            ..RelayConfig::new(format!("bench-relay-{i}"), brokers.clone())
        };
        let relay = Relay::new(pool.clone(), config)?;
        stats.push(relay.stats());
        relays.push(tokio::spawn(relay.run(shutdown.clone())));
    }
    let mut last_report = Instant::now();
    loop {
        let published: u64 = stats.iter().map(|s| s.snapshot().published).sum();
        if published >= args.events {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            eprintln!("  {published} published after {:.1} s", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.send(true)?;
    let mut failed_attempts = 0;
    let mut batches = 0;
    for relay in relays {
        let counts = relay.await?;
        failed_attempts += counts.failed_attempts;
        batches += counts.batches;
    }
    let published: i64 = sqlx::query_scalar("select count(*) from messaging.outbox_event where status = 'PUBLISHED'")
        .fetch_one(&pool)
        .await?;
    let rate = args.events as f64 / seconds;
    eprintln!("relay: {} events in {seconds:.2} s = {rate:.0} events/s ({batches} batches, {failed_attempts} failed attempts)", args.events);

    let result = serde_json::json!({
        "events": args.events,
        "published_rows": published,
        "seconds": seconds,
        "events_per_sec": rate,
        "batch_size": args.batch,
        "instances": args.instances,
        "lanes": args.lanes,
        "per_aggregate": args.per_aggregate,
        "avg_payload_bytes": avg_payload.round(), "pad_bytes": args.pad_bytes,
        "linger_ms": args.linger_ms,
        "batch_bytes": args.batch_bytes,
        "acks": "all",
        "enable_idempotence": true,
        "topic": topic,
        "failed_attempts": failed_attempts,
        "batches": batches,
    });
    println!("{result}");

    if !args.keep {
        pool.close().await;
        let _ = kafka_admin.delete_topics(&[topic.as_str()], &AdminOptions::new()).await;
        sqlx::query(&format!("drop database if exists {SCRATCH_DB} with (force)")).execute(&mut admin_db).await?;
    }
    admin_db.close().await?;
    if published != args.events as i64 {
        return Err(format!("{published} rows PUBLISHED, expected {}", args.events).into());
    }
    Ok(())
}

/// Inserts the events server-side in chunks: one statement per 20 000 rows, no per-row round trips.
async fn fill(pool: &sqlx::PgPool, args: &Args) -> Result<(), sqlx::Error> {
    let aggregates = args.events.div_ceil(args.per_aggregate) as i64;
    let chunk = 20_000i64;
    let mut from = 0i64;
    while from < args.events as i64 {
        let to = (from + chunk).min(args.events as i64) - 1;
        sqlx::query(
            "insert into messaging.outbox_event
               (outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,
                payload, headers, created_at)
             select gen_random_uuid(), t.tenant_id, 'order', a.id, g / $3 + 1,
                    case when g < $3 then 'OrderCaptured' else 'OrderStatusChanged' end,
                    jsonb_build_object(
                      'order_id', a.id, 'tenant_id', t.tenant_id, 'order_number', 'SO-' || (g % $3),
                      'command', 'BEGIN_FULFILLMENT', 'from_status', 'ORCHESTRATING', 'status', 'IN_PROGRESS',
                      'version', g / $3 + 1, 'total_minor', 27499, 'currency', 'EUR', 'occurred_at', now())
                    || case when $4 > 0 then jsonb_build_object('note', repeat('x', $4::int)) else '{}' end,
                    jsonb_build_object('correlation_id', gen_random_uuid(), 'schema_version', 1),
                    now() - interval '1 hour' + g * interval '1 microsecond'
             from generate_series($1::bigint, $2::bigint) g
             cross join lateral (select ('00000000-0000-4000-8000-' || lpad(to_hex(g % $3), 12, '0'))::uuid as id) a
             cross join lateral (select ('10000000-0000-4000-8000-00000000000' || (1 + g % 4))::uuid as tenant_id) t",
        )
        .bind(from)
        .bind(to)
        .bind(aggregates)
        .bind(args.pad_bytes as i64)
        .execute(pool)
        .await?;
        from = to + 1;
    }
    Ok(())
}
