# Sourced by bench/run.sh and bench/soak.sh: the benchmark dataset bench_<orders>, seeded once (the seed
# generator, anomaly rate 1%, rng seed 42, 4 extra tenants) and kept between runs; migrated every time.
# Built again once it has drifted: every run's simulated changes stay in it (10 000 quotes whose events wait
# unpublished, approvals pending, orders unprojected — nothing publishes, projects or decides them on this
# database), and the detectors' figures grow with them. BENCH_MAX_DRIFT_PCT (default 1) is how many more
# orders than seeded, in percent, a run accepts.
#
#   ensure_dataset <orders> <seed binary> <opsdeck binary>
#
# Sets BENCH_DATABASE_URL (exported) and dataset_seed_report (the JSON report of the seed that built it,
# under $OPSDECK_HOME/bench/).

ensure_dataset() {
  local orders=$1 seed_bin=$2 opsdeck_bin=$3 server_url=${DATABASE_URL%/*} db="bench_$1" finished
  export BENCH_DATABASE_URL="$server_url/$db"
  mkdir -p "$OPSDECK_HOME/bench"
  dataset_seed_report="$OPSDECK_HOME/bench/$db.seed.json"
  local exists why=
  exists=$(psql -X -qtA "$server_url/postgres" -c "select count(*) from pg_database where datname = '$db'")
  finished=0
  if [ "$exists" = 1 ]; then
    finished=$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select count(*) from platform.seed_run where finished_at is not null" 2>/dev/null || echo 0)
  fi
  if [ "${finished:-0}" -ge 1 ]; then
    # Against what the seed wrote (its recorded count: a 1% anomaly rate adds duplicated orders).
    local seeded now_orders drift_pct max_drift=${BENCH_MAX_DRIFT_PCT:-1}
    seeded=$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select max((counts->'rows'->>'oms.sales_order')::bigint) from platform.seed_run where finished_at is not null")
    now_orders=$(psql -X -qtA "$BENCH_DATABASE_URL" -c "select count(*) from oms.sales_order")
    local base=${seeded:-$orders}
    drift_pct=$(awk -v n="$now_orders" -v s="$base" 'BEGIN { printf "%.1f", (n - s) * 100 / s }')
    # Compared exactly (whole-percent arithmetic would take 1.98% for 1%).
    if [ $(( (now_orders - base) * 100 )) -gt $(( max_drift * base )) ]; then
      why="it has drifted: $now_orders orders, $drift_pct% more than the $seeded seeded (earlier runs' simulated changes; BENCH_MAX_DRIFT_PCT=$max_drift)"
      finished=0
    fi
  fi
  if [ "${finished:-0}" -lt 1 ]; then
    if [ "$exists" = 1 ]; then
      log "$db: ${why:-it has no finished seed run}: building it again"
      psql -X -q "$server_url/postgres" -c "drop database $db"
    fi
    # About 19 GB a million orders; the shared disk keeps 8 GB free besides.
    local need_gb=$(( orders * 19 / 1000000 + 8 )) free_gb
    free_gb=$(df -BG --output=avail "$OPSDECK_HOME" | tail -n 1 | tr -dc '0-9')
    [ "$free_gb" -ge "$need_gb" ] || die "$db needs about $need_gb GB free (the dataset and 8 GB to spare); $free_gb GB are: pass a smaller --orders"
    log "building the dataset $db: $orders orders (once; kept for later runs)"
    psql -X -q "$server_url/postgres" -c "create database $db"
    DATABASE_URL="$BENCH_DATABASE_URL" "$seed_bin" "$orders" 0.01 42 4 >"$dataset_seed_report"
  fi
  DATABASE_URL="$BENCH_DATABASE_URL" "$opsdeck_bin" migrate >/dev/null
}
