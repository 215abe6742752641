#!/usr/bin/env bash
# The seed generator beside PostgreSQL COPY of the very same rows (issue 14 §5); prints JSON.
#
#   BENCH_SEED_ORDERS=N bash bench/lib/seed-vs-copy.sh <seed example binary> <opsdeck binary>
#
# 1. bench_seed_src: created fresh, seeded with N orders; the seed's own elapsed time is the figure.
# 2. Every table the seed reported rows for is exported from it with COPY … TO (binary).
# 3. bench_seed_copy: created fresh and migrated (same indexes, constraints, triggers); the rows the seed
#    found in place (tenants, policies, its run row) copied in untimed; then the exported rows copied in
#    with COPY … FROM, timed, in the seed's own three lanes (quote side, order side, outbox) at once, each
#    lane one transaction in foreign-key order. Both databases are dropped at the end.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
seed_bin=$1 opsdeck=$2
orders=${BENCH_SEED_ORDERS:-100000}
export PGOPTIONS="-c client_min_messages=warning"
server_url=${DATABASE_URL%/*}
src=bench_seed_src dst=bench_seed_copy
work=$(mktemp -d "${TMPDIR:-/tmp}/opsdeck-seed-copy.XXXXXX")
admin() { psql -X -qtA -v ON_ERROR_STOP=1 "$server_url/postgres" -c "$1" >/dev/null; }
drop_both() { admin "drop database if exists $src"; admin "drop database if exists $dst"; }
trap 'rm -rf "$work"; drop_both' EXIT
drop_both

admin "create database $src"
DATABASE_URL="$server_url/$src" "$seed_bin" "$orders" 0.01 42 4 >"$work/report.json"
seed_seconds=$(jq '.elapsed_ms / 1000' "$work/report.json")

# Tables by foreign-key depth (a table after every table it references).
depth_sql="with recursive fk(t, r) as (
    select conrelid::regclass::text, confrelid::regclass::text from pg_constraint where contype = 'f' and conrelid <> confrelid),
  d(t, depth) as (
    select c.oid::regclass::text, 0 from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    union all select fk.t, d.depth + 1 from fk join d on fk.r = d.t)
  select t from d group by t order by max(depth), t"
mapfile -t ordered < <(psql -X -qtA -v ON_ERROR_STOP=1 "$server_url/$src" -c "$depth_sql")
mapfile -t seeded < <(jq -r '.rows | to_entries[] | select(.value > 0) | .key' "$work/report.json")
is_seeded() { printf '%s\n' "${seeded[@]}" | grep -qx "$1"; }
# The seed's lanes (platform/src/seed/load.rs).
lane() {
  case "$1" in
    cpq.quote|cpq.quote_line|cpq.quote_transition|cpq.approval_request|cpq.approval_transition) echo 0 ;;
    messaging.outbox_event|platform.seed_anomaly) echo 2 ;;
    *) echo 1 ;;
  esac
}

admin "create database $dst"
DATABASE_URL="$server_url/$dst" "$opsdeck" migrate >/dev/null
rows=0 tables=0
for t in "${ordered[@]}"; do
  n=$(psql -X -qtA "$server_url/$src" -c "select count(*) from $t")
  [ "$n" -gt 0 ] || continue
  file="$work/${t}.bin"
  psql -X -q -v ON_ERROR_STOP=1 "$server_url/$src" -c "\\copy $t to '$file' with (format binary)"
  if is_seeded "$t"; then
    rows=$((rows + n)) tables=$((tables + 1))
    echo "\\copy $t from '$file' with (format binary)" >>"$work/lane$(lane "$t").sql"
  elif [ "$(psql -X -qtA "$server_url/$dst" -c "select count(*) from $t")" = 0 ]; then
    psql -X -q -v ON_ERROR_STOP=1 "$server_url/$dst" -c "\\copy $t from '$file' with (format binary)"
  fi
done

started=$(date +%s.%N)
pids=()
for l in 0 1 2; do
  [ -f "$work/lane$l.sql" ] || continue
  psql -X -q -v ON_ERROR_STOP=1 -1 "$server_url/$dst" -f "$work/lane$l.sql" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
copy_seconds=$(echo "$(date +%s.%N) - $started" | bc -l)

jq -n --argjson orders "$orders" --argjson rows "$rows" --argjson tables "$tables" \
  --argjson seed "$seed_seconds" --argjson copy "$copy_seconds" \
  '{orders: $orders, rows: $rows, tables: $tables, seed_seconds: $seed, copy_seconds: $copy, lanes: 3}'
