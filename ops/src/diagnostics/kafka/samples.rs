//! The sampler's rounds in PostgreSQL (`ops.kafka_lag_sample`): written by one replica at a time, pruned to
//! the retention, and read back as one window per partition for the evaluator.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::evaluate::Sample;
use super::watch::Observation;

/// Only one replica writes a round: the others find this advisory lock taken and skip writing (they
/// read the same rows).
const WRITER_LOCK: i64 = 0x6f70_7364_6b6c_6167; // "opsdklag"

/// One partition of one group and its latest samples, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionWindow {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub samples: Vec<Sample>,
}

/// Writes an observation as one round and deletes rounds older than `retention`. Returns false when
/// another replica holds the writer's lock (nothing written).
pub async fn record(pool: &PgPool, observation: &Observation, retention: Duration) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let ours: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)").bind(WRITER_LOCK).fetch_one(&mut *tx).await?;
    if !ours {
        return Ok(false);
    }
    let p = &observation.positions;
    let groups: Vec<&str> = p.iter().map(|p| p.group.as_str()).collect();
    let topics: Vec<&str> = p.iter().map(|p| p.topic.as_str()).collect();
    let partitions: Vec<i32> = p.iter().map(|p| p.partition).collect();
    let offsets: Vec<i64> = p.iter().map(|p| p.committed_offset).collect();
    let committed: Vec<DateTime<Utc>> = p.iter().map(|p| p.committed_at).collect();
    let ends: Vec<i64> = p.iter().map(|p| p.log_end_offset).collect();
    let oldest: Vec<Option<DateTime<Utc>>> = p.iter().map(|p| p.oldest_unconsumed_at.filter(|_| p.lag() > 0)).collect();
    sqlx::query(
        "insert into ops.kafka_lag_sample
           (consumer_group, topic, kafka_partition, sampled_at, committed_offset, committed_at, log_end_offset,
            lag, oldest_unconsumed_at)
         select g, t, p, $1, o, c, e, greatest(e - o, 0), u
         from unnest($2::text[], $3::text[], $4::int[], $5::bigint[], $6::timestamptz[], $7::bigint[],
                     $8::timestamptz[]) as x(g, t, p, o, c, e, u)
         on conflict do nothing",
    )
    .bind(observation.at)
    .bind(&groups)
    .bind(&topics)
    .bind(&partitions)
    .bind(&offsets)
    .bind(&committed)
    .bind(&ends)
    .bind(&oldest)
    .execute(&mut *tx)
    .await?;
    // Uses ix_kafka_lag_sample_sampled_at.
    sqlx::query("delete from ops.kafka_lag_sample where sampled_at < $1 - make_interval(secs => $2)")
        .bind(observation.at)
        .bind(retention.as_secs_f64())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// The latest `size` samples of every partition seen in the latest round, oldest first; with the time of
/// that round (`None`: nothing sampled yet).
pub async fn windows(db: &mut PgConnection, size: u32) -> sqlx::Result<(Option<DateTime<Utc>>, Vec<PartitionWindow>)> {
    // The latest round through ix_kafka_lag_sample_sampled_at, then each partition's window backwards
    // through the primary key.
    let rows: Vec<(String, String, i32, DateTime<Utc>, i64, DateTime<Utc>, i64, i64, Option<DateTime<Utc>>)> =
        sqlx::query_as(
            "with latest as (select max(sampled_at) as at from ops.kafka_lag_sample)
             select w.consumer_group, w.topic, w.kafka_partition, w.sampled_at, w.committed_offset, w.committed_at,
                    w.log_end_offset, w.lag, w.oldest_unconsumed_at
             from latest
             join ops.kafka_lag_sample c on c.sampled_at = latest.at
             cross join lateral (
               select s.* from ops.kafka_lag_sample s
               where s.consumer_group = c.consumer_group and s.topic = c.topic and s.kafka_partition = c.kafka_partition
               order by s.sampled_at desc
               limit $1
             ) w
             order by w.consumer_group, w.topic, w.kafka_partition, w.sampled_at",
        )
        .bind(i64::from(size))
        .fetch_all(&mut *db)
        .await?;
    let latest = rows.iter().map(|r| r.3).max();
    let mut windows: Vec<PartitionWindow> = Vec::new();
    for (group, topic, partition, sampled_at, committed_offset, committed_at, log_end_offset, lag, oldest) in rows {
        let sample =
            Sample { sampled_at, committed_offset, committed_at, log_end_offset, lag, oldest_unconsumed_at: oldest };
        match windows.last_mut() {
            Some(w) if w.group == group && w.topic == topic && w.partition == partition => w.samples.push(sample),
            _ => windows.push(PartitionWindow { group, topic, partition, samples: vec![sample] }),
        }
    }
    Ok((latest, windows))
}
