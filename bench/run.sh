#!/usr/bin/env bash
# The benchmark harness (issue 14): measures opsdeck beside its floors on one dataset and writes
# BENCHMARKS.md at the repository root. See bench/README.md.
#
#   bash bench/run.sh [--quick] [--orders N] [--only SECTIONS] [--keep-results DIR]
#
#   --quick       minutes, not an hour: 20 000 orders, 5 000 incidents, 5 s load steps, 50 repairs, …
#   --orders N    the dataset's size (default 1 000 000; database bench_<N>, built once and kept)
#   --only S      a comma-separated subset of: seed,reconcile,pages,repairs,relay,projection
#                 (the report then says "not measured" for the rest)
#   --keep-results DIR  write this run's figures into DIR (created if missing) and keep what an earlier run
#                 left there for the sections not measured now: with --only, re-measures some sections and
#                 reports them beside the others' earlier figures (BENCH_NOTE should say which came when)
#
# Needs the service stack (bash scripts/stack.sh up — started if it is not running, never restarted)
# and wrk (apt-get install wrk; installed if missing). Databases it creates all start with bench_.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"

keep_results="" mode=full orders=1000000 default_orders=1000000 incidents=100000 step_seconds=20 repairs=200 changes=10000
stream_events=100000 seed_orders=50000 data_iterations=200 sessions=50 only=all
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick orders=20000 default_orders=20000 incidents=5000 step_seconds=5 repairs=50 changes=2000
             stream_events=20000 seed_orders=10000 data_iterations=50 ;;
    --orders) orders=$2; shift ;;
    --only) only=$2; shift ;;
    --keep-results) keep_results=$2; shift ;;
    *) die "unknown argument: $1 (see the header of bench/run.sh)" ;;
  esac
  shift
done
wanted() { [ "$only" = all ] || [[ ",$only," == *",$1,"* ]]; }

server_url=${DATABASE_URL%/*}
db="bench_$orders"
if [ -n "$keep_results" ]; then
  mkdir -p "$keep_results"
  results=$(cd "$keep_results" && pwd)
else
  results=$(mktemp -d "${TMPDIR:-/tmp}/opsdeck-bench.XXXXXX")
fi
log "results of this run in $results"

command -v wrk >/dev/null || { log "installing wrk (apt)"; apt-get install -y wrk >/dev/null; }
bash scripts/stack.sh up >/dev/null

log "building (release): opsdeck, opsdeck-bench, the seed and stream benchmarks"
cargo build --release --locked -p server --bin opsdeck -p platform --example seed --example relay_bench --example projection_bench
# A build of its own: opsdeck-bench enables ops' test support, which must not reach the server's build.
cargo build --release --locked -p bench --bin opsdeck-bench
bin="$CARGO_TARGET_DIR/release"
opsdeck="$bin/opsdeck" bench="$bin/opsdeck-bench" seed="$bin/examples/seed"

psql_admin() { psql -X -qtA -v ON_ERROR_STOP=1 "$server_url/postgres" "$@"; }
disk_free() { df -h --output=avail "$OPSDECK_HOME" | tail -n 1 | tr -d ' '; }
disk_before=$(disk_free)

# --- the dataset: bench_<orders>, built once and kept ------------------------------------------------------
source bench/lib/dataset.sh
ensure_dataset "$orders" "$seed" "$opsdeck"
dataset="$db: $(psql -X -qtA "$BENCH_DATABASE_URL" -c "select to_char(count(*), 'FM9G999G999') from oms.sales_order") orders \
($(psql -X -qtA "$BENCH_DATABASE_URL" -c "select pg_size_pretty(pg_database_size(current_database()))")); the seed writes about 19 GB \
a million orders, and this shared disk had $disk_before free at the start (1M needs 19 GB + 8 GB to spare, 10M about 190 GB)"
# BENCH_NOTE: a sentence printed under the machine table (what this run left out and why).
note=${BENCH_NOTE:-}

# --- 5. seed beside COPY of the same rows ---------------------------------------------------------------------
if wanted seed; then
  log "seed: $seed_orders orders beside COPY of the same rows"
  BENCH_SEED_ORDERS=$seed_orders bash bench/lib/seed-vs-copy.sh "$seed" "$opsdeck" >"$results/seed.json"
  if [ -f "$dataset_seed_report" ]; then
    jq --slurpfile big "$dataset_seed_report" '. + {big_orders: $big[0].params.orders, big_seed_seconds: ($big[0].elapsed_ms / 1000)}' \
      "$results/seed.json" >"$results/seed.tmp" && mv "$results/seed.tmp" "$results/seed.json"
  fi
fi

# --- 1. reconciliation ----------------------------------------------------------------------------------------
if wanted reconcile; then
  log "reconciliation: every check beside its bare SQL, then $changes changes and the incremental re-runs"
  DATABASE_URL="$BENCH_DATABASE_URL" "$bench" reconcile --sql-dir bench/sql/reconcile --changes "$changes" >"$results/reconcile.json"
fi

# --- 2 and 6. pages under load, memory and start ------------------------------------------------------------
if wanted pages; then
  log "incident register: topping up to $incidents incidents (the domain's declare command)"
  DATABASE_URL="$BENCH_DATABASE_URL" "$bench" incidents --count "$incidents" >"$results/incidents.json"
  BENCH_SESSIONS=$sessions BENCH_STEP_SECONDS=$step_seconds BENCH_DATA_ITERATIONS=$data_iterations \
    bash bench/lib/pages.sh "$opsdeck" "$bench" "$results"
fi

# --- 3. repairs -------------------------------------------------------------------------------------------------
if wanted repairs; then
  log "repairs: $repairs resume-orchestration repairs"
  DATABASE_URL="$BENCH_DATABASE_URL" "$bench" repairs --count "$repairs" >"$results/repairs.json"
fi

# --- 4. relay and projection ----------------------------------------------------------------------------------
if wanted relay; then
  log "relay: $stream_events events beside producer-perf-test"
  BENCH_NO_BUILD=1 BENCH_JSON="$results/relay.json" bash bench/relay.sh "$stream_events" >"$results/relay.txt"
fi
if wanted projection; then
  log "projection: $stream_events events beside consumer-perf-test"
  BENCH_NO_BUILD=1 BENCH_JSON="$results/projection.json" bash bench/projection.sh "$stream_events" >"$results/projection.txt"
fi

# --- the report -------------------------------------------------------------------------------------------------
command="bash bench/run.sh"; [ "$mode" = quick ] && command+=" --quick"
[ "$orders" = "$default_orders" ] || command+=" --orders $orders"
[ "$only" = all ] || command+=" --only $only"
jq -n --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" --arg commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo '+changes')" \
  --arg mode "$mode" --arg command "$command" --arg dataset "$dataset" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)" --arg cores "$(nproc)" \
  --arg memory "$(free -h | awk '/^Mem:/ { print $2 }')" --arg os "$(. /etc/os-release; echo "$PRETTY_NAME") $(uname -r)" \
  --arg postgres "$(psql_admin -c 'show server_version')" \
  --arg kafka "$(basename "$(ls -d "$OPSDECK_HOME"/dist/kafka/libs/kafka_*.jar 2>/dev/null | grep -v -e test -e sources | head -n1)" .jar 2>/dev/null)" \
  --arg disk "$disk_before / $(disk_free)" --arg note "$note" \
  '{date: $date, commit: $commit, mode: $mode, command: $command, dataset: $dataset, cpu: $cpu, cores: $cores,
    memory: $memory, os: $os, postgres: $postgres, kafka: $kafka, disk: $disk}
    + (if $note == "" then {} else {note: $note} end)' >"$results/meta.json"
"$bench" report --results "$results" >BENCHMARKS.md
log "wrote BENCHMARKS.md (raw figures: $results)"
