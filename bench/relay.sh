#!/usr/bin/env bash
# Outbox relay throughput beside Kafka's own producer, on the same broker with the same acks and batching.
#
#   bash bench/relay.sh [events] [relay_bench flags...]     e.g. bash bench/relay.sh 20000 --batch 1000
#
# 1. platform/examples/relay_bench fills a scratch database (opsdeck_relay_bench) with `events` pending
#    outbox events and times the relay end to end: claim → publish (acks=all, idempotent) → mark PUBLISHED.
# 2. Kafka's ProducerPerformance sends as many records of the events' average payload size, with
#    acks=all, enable.idempotence=true and the relay's linger.ms and batch.size, to a fresh topic with the
#    same partition count (3).
# Both topics are deleted afterwards. PostgreSQL and Kafka are started if they are not running.
# Build profile: BENCH_PROFILE (default release). With BENCH_JSON=<file>, the figures are also written
# there as JSON (bench/run.sh collects them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"

events=${1:-100000}
shift || true

bash scripts/stack.sh up postgres kafka
source bench/lib/example.sh
bin=$(example_path relay_bench)

log "relay: $events events"
relay_json=$("$bin" --events "$events" "$@")
field() { jq -r ".$1" <<<"$relay_json"; }
relay_rate=$(field events_per_sec)
record_size=$(field avg_payload_bytes | cut -d. -f1)
linger=$(field linger_ms)
batch_bytes=$(field batch_bytes)
batch=$(field batch_size)
instances=$(field instances)

topic="bench.perf.$(date +%Y%m%d%H%M%S)"
log "kafka producer-perf-test: $events records of $record_size bytes to $topic"
bash scripts/kafka-tool.sh topics --bootstrap-server "$OPSDECK_KAFKA_BROKERS" --create --topic "$topic" \
  --partitions 3 --replication-factor 1 >/dev/null
perf_out=$(bash scripts/kafka-tool.sh producer-perf-test --topic "$topic" --num-records "$events" \
  --record-size "$record_size" --throughput -1 \
  --producer-props bootstrap.servers="$OPSDECK_KAFKA_BROKERS" acks=all enable.idempotence=true \
  linger.ms="$linger" batch.size="$batch_bytes")
bash scripts/kafka-tool.sh topics --bootstrap-server "$OPSDECK_KAFKA_BROKERS" --delete --topic "$topic" >/dev/null || true
# The last line is the summary: "N records sent, R records/sec (M MB/sec), A ms avg latency, ...".
perf_summary=$(grep 'records sent' <<<"$perf_out" | tail -n 1)
perf_rate=$(sed -E 's/.*records sent, ([0-9.]+) records\/sec.*/\1/' <<<"$perf_summary")

printf '\n%-34s %14s\n' "same broker, acks=all, idempotent" "records/s"
printf '%-34s %14.0f\n' "opsdeck outbox relay (end to end)" "$relay_rate"
printf '%-34s %14.0f\n' "kafka producer-perf-test" "$perf_rate"
printf '\nrelay: %s events, batch %s, %s instance(s), payload avg %s B (+ 36 B key, ~250 B headers), linger.ms=%s batch.size=%s\n' \
  "$events" "$batch" "$instances" "$record_size" "$linger" "$batch_bytes"
printf 'perf:  %s\n' "$perf_summary"
printf 'relay: %s\n' "$relay_json"
if [ -n "${BENCH_JSON:-}" ]; then
  jq -n --argjson relay "$relay_json" --arg perf "$perf_summary" --argjson events "$events" \
    --argjson relay_rate "$relay_rate" --argjson perf_rate "$perf_rate" \
    '{events: $events, relay_per_sec: $relay_rate, tool_per_sec: $perf_rate, tool: $perf, relay: $relay}' >"$BENCH_JSON"
fi
