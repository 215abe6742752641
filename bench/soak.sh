#!/usr/bin/env bash
# Load and soak (issue 13 item 4): at least 50 signed-in sessions and the internal API for 10 minutes
# against the console on the benchmark dataset, with the platform's traffic simulator running; prints a
# Markdown block (errors, latency percentiles and server RSS minute by minute — its low and high of samples
# every 5 s —, whether the memory the server keeps stayed flat).
#
#   bash bench/soak.sh [--minutes 10] [--sessions 50] [--orders 1000000] [--traffic-rate 2] [--markdown FILE]
#
# --markdown FILE appends the block to FILE too (for RELIABILITY.md). Exit status: 0 when there were no
# errors and memory stayed flat, 1 otherwise — so scripts/reliability.sh can take both the block and the
# verdict. The dataset is bench/run.sh's (bench_<orders>, built if missing, kept).
#
# The load is wrk, one run a minute (so each minute has its own percentiles and the internal API gets a
# fresh client-credentials token before the realm's 5-minute tokens expire), each connection rotating over
# the sessions and over the targets: six console pages and two internal API routes. Anything but a 200 is
# an error. The platform runs with its own Kafka topics and consumer group (bench.soak.*), without the
# engine worker and with orchestration starts paused in this database, so it leaves the shared Operaton
# and the demo's topics alone; its vendor listens on 127.0.0.1:58191.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"

minutes=10 sessions=50 orders=1000000 rate=2 markdown=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift ;;
    --sessions) sessions=$2; shift ;;
    --orders) orders=$2; shift ;;
    --traffic-rate) rate=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    *) die "unknown argument: $1 (see the header of bench/soak.sh)" ;;
  esac
  shift
done

command -v wrk >/dev/null || { log "installing wrk (apt)"; apt-get install -y wrk >/dev/null; }
bash scripts/stack.sh up >/dev/null
cargo build --release --locked -p server --bin opsdeck -p platform --example seed
# The commit the binaries were built from (taken now: the tree may move while the soak runs).
built_from="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+changes')"
opsdeck="$CARGO_TARGET_DIR/release/opsdeck"
source bench/lib/dataset.sh
ensure_dataset "$orders" "$CARGO_TARGET_DIR/release/examples/seed" "$opsdeck"
source bench/lib/console.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/opsdeck-soak.XXXXXX")
log "soak: $sessions sessions × $minutes min on bench_$orders, simulator at $rate quotes/s (work: $work)"

platform_pid=""
cleanup() {
  stop_console
  if [ -n "$platform_pid" ]; then kill -INT "$platform_pid" 2>/dev/null || true; wait "$platform_pid" 2>/dev/null || true; fi
  DATABASE_URL="$BENCH_DATABASE_URL" "$opsdeck" platform control set orchestration-starts off \
    --reason "soak finished: starts may run again" --actor bench-soak >/dev/null 2>&1 || true
}
trap cleanup EXIT
DATABASE_URL="$BENCH_DATABASE_URL" "$opsdeck" platform control set orchestration-starts on \
  --reason "soak: keep the shared engine free of benchmark instances" --actor bench-soak >/dev/null
quotes_before=$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select count(*) from cpq.quote")
DATABASE_URL="$BENCH_DATABASE_URL" RUST_LOG=warn "$opsdeck" platform run --no-engine-worker --traffic-rate "$rate" \
  --vendor-listen 127.0.0.1:58191 --topic-prefix bench.soak. --projection-group bench-soak-projection \
  >"$work/platform.log" 2>&1 &
platform_pid=$!

start_console "$opsdeck" "$work/serve.log"
sign_in "$sessions" "$work/cookies.txt"
sleep 2
rss_start=$(rss_mb "$console_pid")

orders_sql="select tenant_id || '/' || order_id from oms.sales_order where status = 'FULFILLED' limit 5"
mapfile -t some_orders < <(psql -X -qtA "$BENCH_DATABASE_URL" -c "$orders_sql")
{
  for p in /incidents /reconciliation /dashboards/executive /dashboards/service-owner /dashboards/incident; do echo "console $p"; done
  for o in "${some_orders[@]}"; do echo "console /orders/$o"; echo "api /internal/v1/orders/$o"; done
  echo "api /internal/v1/whoami"
} >"$work/targets.txt"
while read -r kind path; do
  [ "$kind" = console ] && expect_200 "$path" "$(head -n 1 "$work/cookies.txt")"
done <"$work/targets.txt"

rows=() total=0 failed=0 statuses=""
for minute in $(seq 1 "$minutes"); do
  BENCH_API_TOKEN=$(api_token)
  [ -n "$BENCH_API_TOKEN" ] && [ "$BENCH_API_TOKEN" != null ] || die "no internal-API token from Keycloak"
  export BENCH_API_TOKEN
  # RSS every 5 s while the minute's load runs: its low is what the server keeps, its high what a burst
  # of work (a scheduled reconciliation run recording ten thousand findings) borrows for a while.
  ( while sleep 5; do echo "$(rss_mb "$console_pid")"; done ) >"$work/rss-$minute.txt" &
  sampler=$!
  out=$(wrk -t 2 -c "$sessions" -d 60s --timeout 10s -s bench/lib/signed-in.lua "$console" -- \
    "$work/cookies.txt" "$work/targets.txt" | tail -n 1)
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  # (On a line of its own: the sampler may have been stopped in the middle of one.)
  printf '\n%s\n' "$(rss_mb "$console_pid")" >>"$work/rss-$minute.txt"
  low=$(awk 'NF { if (min == "" || $1 < min) min = $1 } END { print min }' "$work/rss-$minute.txt")
  high=$(awk 'NF { if ($1 > max) max = $1 } END { print max }' "$work/rss-$minute.txt")
  rss="$low / $high"
  kill -0 "$platform_pid" 2>/dev/null || { tail -n 20 "$work/platform.log" >&2; die "the platform stopped"; }
  bad=$(jq '.non_2xx + .errors' <<<"$out")
  total=$((total + $(jq .requests <<<"$out"))) failed=$((failed + bad)) statuses+=$(jq -r .statuses <<<"$out")
  rows+=("$(jq -r --arg m "$minute" --arg rss "$rss" '"| \($m) | \(.requests) | \(.rps | floor) | \(.p50_ms * 10 | round / 10) | \(.p90_ms * 10 | round / 10) | \(.p99_ms * 10 | round / 10) | \(.max_ms | round) | \(.non_2xx + .errors) | \($rss) |"' <<<"$out")")
  echo "${rows[-1]}" | tee -a "$work/minutes.md" >&2
  echo "$low $high" >>"$work/rss.txt"
done
rss_end=$(rss_mb "$console_pid")
quotes=$(( $(psql -X -qtA "$BENCH_DATABASE_URL" -c "select count(*) from cpq.quote") - quotes_before ))

# Flat: the memory the server keeps — each minute's low — is no more than 10% (and 10 MB) higher over the
# last third of the minutes than over the first. A leak raises the lows; a burst of work raises a minute's
# high and is given back (the highs are printed, and their peak, but they do not decide).
verdict=$(awk -v n="$minutes" '{ v[NR] = $1; if ($2 > peak) peak = $2 } END {
  k = int(n / 3); if (k < 1) k = 1
  for (i = 1; i <= k; i++) a += v[i]; for (i = n - k + 1; i <= n; i++) b += v[i]; a /= k; b /= k
  growth = b - a; flat = (growth <= 10 || growth <= 0.10 * a)
  printf "%s (kept: first %d min %.0f MB, last %d min %.0f MB, %+.1f MB; peak %.0f MB)", flat ? "flat" : "GROWING", k, a, k, b, growth, peak
}' "$work/rss.txt")

block=$(cat <<MD
### Load and soak

\`bash bench/soak.sh --minutes $minutes --sessions $sessions --orders $orders --traffic-rate $rate\` on $(date -u '+%Y-%m-%d %H:%M UTC'),
commit \`$built_from\`, $(nproc) cores, $(free -h | awk '/^Mem:/ { print $2 }') memory: $sessions signed-in console sessions
and the internal API (client credentials, rate limit off), $(wc -l <"$work/targets.txt") targets in rotation, against bench_$orders
($(psql -X -qtA "$BENCH_DATABASE_URL" -c "select to_char(count(*), 'FM9G999G999') from oms.sales_order") orders,
$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select to_char(count(*), 'FM9G999G999') from ops.operational_incident") incidents), while the traffic simulator created $quotes quotes.

| minute | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server RSS MB low / high |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")

**$total requests, $failed errors**${statuses:+ (statuses: $statuses)}; server RSS $rss_start MB after sign-in, $rss_end MB at the end: memory $verdict.
MD
)
echo "$block"
[ -z "$markdown" ] || printf '%s\n\n' "$block" >>"$markdown"
[ "$failed" = 0 ] && [[ "$verdict" == flat* ]]
