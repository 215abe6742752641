#!/usr/bin/env bash
# Projection consumer throughput: order events from Kafka into the order projection, end to end.
#
#   scripts/bench-projection.sh [events] [projection_bench flags...]     e.g. scripts/bench-projection.sh 20000
#
# platform/examples/projection_bench creates a scratch database (opsdeck_projection_bench), produces
# `events` valid order events (events/4 orders: OrderCaptured v1, OrderStatusChanged v2..v4, keyed by
# order id, acks=all) to a fresh topic with 3 partitions BEFORE the clock starts, then times the
# projection consumer (fresh group, earliest) until every event is in messaging.inbox_message:
# parse → inbox row + projection upsert in one transaction → offset commit. It checks that every order's
# projection row reached version 4. The topics and the group are deleted afterwards. PostgreSQL and
# Kafka are started if they are not running. Build profile: BENCH_PROFILE (default release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"

events=${1:-100000}
shift || true
profile=${BENCH_PROFILE:-release}

bash scripts/stack.sh up postgres kafka
log "building projection_bench ($profile)"
cargo build --profile "$profile" -p platform --example projection_bench --locked
dir=$profile; [ "$profile" = dev ] && dir=debug

log "projection: $events events"
json=$("$CARGO_TARGET_DIR/$dir/examples/projection_bench" --events "$events" "$@")
field() { jq -r ".$1" <<<"$json"; }

printf '\n%-34s %14s\n' "same broker, fresh group" "events/s"
printf '%-34s %14.0f\n' "opsdeck projection consumer" "$(field events_per_sec)"
printf '\nprojection: %s events (%s orders × %s), %s partitions, payload avg %s B, %.2f s; %s projected, %s stale, %s duplicates, %s dead-lettered\n' \
  "$events" "$(field orders)" "$(field per_aggregate)" "$(field partitions)" "$(field avg_payload_bytes)" "$(field seconds)" \
  "$(field projected)" "$(field stale)" "$(field duplicates)" "$(field dead_lettered)"
printf 'projection: %s\n' "$json"
