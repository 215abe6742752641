-- Live diagnostics (issue 11; lesson §11, §19.2): consumer group offsets sampled at a fixed interval by the
-- console's sampler, the sliding window the consumer lag evaluator reads (Burrow's rules).
--
-- A sample is a measurement, not evidence: samples older than the retention are deleted by the sampler, so
-- this table is deliberately not append-only. One row per (group, topic, partition) per sampling round;
-- every row of a round carries the round's `sampled_at`.
create table ops.kafka_lag_sample (
  consumer_group        text not null check (consumer_group <> ''),
  topic                 text not null check (topic <> ''),
  kafka_partition       integer not null check (kafka_partition >= 0),
  sampled_at            timestamptz not null,
  -- The group's committed offset (the next record it will read) and when it was committed, as the group
  -- coordinator recorded it (`__consumer_offsets`): a commit of an unchanged offset has a new time.
  committed_offset      bigint not null check (committed_offset >= 0),
  committed_at          timestamptz not null,
  -- The partition's log end offset at `sampled_at`.
  log_end_offset        bigint not null check (log_end_offset >= 0),
  lag                   bigint not null check (lag >= 0),
  -- The time stamp of the oldest unconsumed record (at `committed_offset`), when there is lag.
  oldest_unconsumed_at  timestamptz,
  check (lag = greatest(log_end_offset - committed_offset, 0)),
  check (lag > 0 or oldest_unconsumed_at is null),
  -- The evaluator's window: the latest samples of one partition (primary key, read backwards).
  primary key (consumer_group, topic, kafka_partition, sampled_at)
);
-- The latest round, and pruning by age.
create index ix_kafka_lag_sample_sampled_at on ops.kafka_lag_sample (sampled_at);
