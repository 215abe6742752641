#!/usr/bin/env bash
# Projection consumer throughput: order events from Kafka into the order projection, end to end.
#
#   bash bench/projection.sh [events] [projection_bench flags...]     e.g. bash bench/projection.sh 20000
#
# platform/examples/projection_bench creates a scratch database (opsdeck_projection_bench), produces
# `events` valid order events (events/4 orders: OrderCaptured v1, OrderStatusChanged v2..v4, keyed by
# order id, acks=all) to a fresh topic with 3 partitions BEFORE the clock starts, then times the
# projection consumer (fresh group, earliest) until every event is in messaging.inbox_message:
# parse → inbox row + projection upsert in one transaction → offset commit. It checks that every order's
# projection row reached version 4. Then Kafka's consumer-perf-test reads the same topic (a fresh group, the
# same broker) as the floor. The topics and the groups are deleted afterwards. PostgreSQL and
# Kafka are started if they are not running. Build profile: BENCH_PROFILE (default release). With
# BENCH_JSON=<file>, the figures are also written there as JSON (bench/run.sh collects them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"

events=${1:-100000}
shift || true

bash scripts/stack.sh up postgres kafka
source bench/lib/example.sh
bin=$(example_path projection_bench)

log "projection: $events events"
json=$("$bin" --events "$events" --keep "$@")
topic=$(jq -r .topic <<<"$json")
group="bench.perf.consumer.$(date +%Y%m%d%H%M%S)"
log "kafka consumer-perf-test: $events records from $topic"
# The summary line: start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, ...
perf_out=$(bash scripts/kafka-tool.sh consumer-perf-test --bootstrap-server "$OPSDECK_KAFKA_BROKERS" --topic "$topic" \
  --messages "$events" --group "$group" --timeout 60000 --hide-header)
perf_rate=$(tail -n 1 <<<"$perf_out" | awk -F', *' '{ print $6 }')
bash scripts/kafka-tool.sh topics --bootstrap-server "$OPSDECK_KAFKA_BROKERS" --delete --topic "$topic" >/dev/null || true
bash scripts/kafka-tool.sh topics --bootstrap-server "$OPSDECK_KAFKA_BROKERS" --delete --topic "$topic.DLT" >/dev/null 2>&1 || true
for g in "$group" "$(jq -r '.consumer_group // empty' <<<"$json")"; do
  [ -n "$g" ] && bash scripts/kafka-tool.sh consumer-groups --bootstrap-server "$OPSDECK_KAFKA_BROKERS" --delete --group "$g" >/dev/null 2>&1 || true
done
field() { jq -r ".$1" <<<"$json"; }

printf '\n%-34s %14s\n' "same broker, fresh group" "events/s"
printf '%-34s %14.0f\n' "opsdeck projection consumer" "$(field events_per_sec)"
printf '%-34s %14.0f\n' "kafka consumer-perf-test" "$perf_rate"
printf '\nprojection: %s events (%s orders × %s), %s partitions, payload avg %s B, %.2f s; %s projected, %s stale, %s duplicates, %s dead-lettered\n' \
  "$events" "$(field orders)" "$(field per_aggregate)" "$(field partitions)" "$(field avg_payload_bytes)" "$(field seconds)" \
  "$(field projected)" "$(field stale)" "$(field duplicates)" "$(field dead_lettered)"
printf 'projection: %s\n' "$json"
if [ -n "${BENCH_JSON:-}" ]; then
  jq -n --argjson projection "$json" --argjson events "$events" --argjson rate "$(field events_per_sec)" \
    --argjson perf_rate "$perf_rate" --arg perf "$(tail -n 1 <<<"$perf_out")" \
    '{events: $events, projection_per_sec: $rate, tool_per_sec: $perf_rate, tool: $perf, projection: $projection}' >"$BENCH_JSON"
fi
