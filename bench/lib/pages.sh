#!/usr/bin/env bash
# Pages under load, memory and start (issue 14 §2, §6), written as JSON into <results>:
#
#   BENCH_DATABASE_URL=… bash bench/lib/pages.sh <opsdeck binary> <opsdeck-bench binary> <results dir>
#
# Starts `opsdeck serve` (start-to-ready timed), signs BENCH_SESSIONS sessions in, then loads each page with
# wrk at 1, 10 and 50 connections for BENCH_STEP_SECONDS each (requests spread over the sessions), sampling
# the server's RSS; then times each page's own data calls alone (opsdeck-bench page-data).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/console.sh"
opsdeck=$1 bench=$2 results=$3
sessions=${BENCH_SESSIONS:-50} seconds=${BENCH_STEP_SECONDS:-20}
lua="$(dirname "${BASH_SOURCE[0]}")/signed-in.lua"

start_console "$opsdeck" "$results/serve.log"
trap stop_console EXIT
log "console ready in ${ready_s}s (listening after ${listening_s}s); signing $sessions sessions in"
sign_in "$sessions" "$results/cookies.txt"
cookie=$(head -n 1 "$results/cookies.txt")
sleep 2
rss_idle=$(rss_mb "$console_pid")

order=$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select tenant_id || '/' || order_id from oms.sales_order where status = 'FULFILLED' limit 1")
declare -A paths=(
  [incidents]=/incidents [reconciliation]=/reconciliation [order-360]="/orders/$order"
  [executive]=/dashboards/executive [service-owner]=/dashboards/service-owner [incident]=/dashboards/incident
)

# RSS every half second while loaded; the maximum is the figure.
rss_log="$results/rss.log"
: >"$rss_log" # a kept results folder holds an earlier run's samples
( while kill -0 "$console_pid" 2>/dev/null; do rss_mb "$console_pid" >>"$rss_log"; echo >>"$rss_log"; sleep 0.5; done ) &
sampler=$!

echo '{}' >"$results/load-pages.json"
for page in incidents reconciliation order-360 executive service-owner incident; do
  path=${paths[$page]}
  expect_200 "$path" "$cookie"
  echo "console $path" >"$results/targets-$page.txt"
  for users in 1 10 50; do
    threads=$(( users < 2 ? 1 : 2 ))
    out=$(wrk -t "$threads" -c "$users" -d "${seconds}s" --timeout 10s -s "$lua" "$console" -- \
      "$results/cookies.txt" "$results/targets-$page.txt" | tail -n 1)
    log "$page ($path) at $users: $out"
    jq --arg page "$page" --arg path "$path" --arg users "$users" --argjson run "$out" \
      '.[$page].path = $path | .[$page][$users] = $run' "$results/load-pages.json" >"$results/load.tmp"
    mv "$results/load.tmp" "$results/load-pages.json"
  done
done
kill "$sampler" 2>/dev/null || true
rss_load=$(sort -n "$rss_log" | tail -n 1)
sleep 2
rss_after=$(rss_mb "$console_pid")

log "each page's own data calls, alone"
DATABASE_URL="$BENCH_DATABASE_URL" "$bench" page-data --order "$order" --iterations "${BENCH_DATA_ITERATIONS:-200}" >"$results/page_data.json"
stop_console

incidents=$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select count(*) from ops.operational_incident")
jq --arg tool "$(wrk --version 2>&1 | head -n 1 | awk '{ print $1 " " $2 }')" --argjson sessions "$sessions" \
  --argjson seconds "$seconds" --argjson incidents "$incidents" \
  '{tool: $tool, sessions: $sessions, seconds: $seconds, incidents: $incidents, pages: .}' \
  "$results/load-pages.json" >"$results/load.json"
jq -n --argjson listening "$listening_s" --argjson ready "$ready_s" --argjson idle "$rss_idle" \
  --argjson load "$rss_load" --argjson after "$rss_after" \
  '{listening_s: $listening, ready_s: $ready, rss_idle_mb: $idle, rss_load_mb: $load, rss_after_mb: $after}' >"$results/server.json"
