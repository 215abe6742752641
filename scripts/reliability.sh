#!/usr/bin/env bash
# The reliability suites of issue 13, on a service stack of their own, ending by themselves; writes
# RELIABILITY.md at the repository root (each suite: what it tried, what survived, what failed).
#
#   scripts/reliability.sh           the full run (120 kills, every outage, the whole corpus; ~20 min)
#   scripts/reliability.sh --quick   the smoke slice (20 kills, the same outages and corpus; ~8 min)
#
# Suites (Rust tests in server/tests/reliability and server/tests/api, run with --nocapture; each prints
# its figures as one `[reliability] {json}` line):
#   crash     relays and projection consumers (real `opsdeck platform relay|project` processes) killed
#             with SIGKILL mid-batch while traffic runs; then nothing lost, nothing doubled
#   outages   Redis, Kafka, Operaton, Keycloak stopped in turn under a signed-in session; a repair
#             executing while Operaton dies; PostgreSQL restarted
#   hostile   every form and page fed a hand corpus; the form parsers under proptest; the internal API
#             fuzzed by schemathesis from its served OpenAPI document
#   access    the role × command matrix, tenant escape, CSRF, forged tokens, sessions, self-approval
#   soak      bench/soak.sh (issue 13 item 4), appended when that script exists and RELIABILITY_SOAK=1
#
# The suites stop and start services, so they never run on the default stack (~/.opsdeck): the stack
# here lives in $OPSDECK_HOME (default ~/.opsdeck-reliability) on ports 100 above the defaults. Its
# downloads are copied from ~/.opsdeck/dist when that exists (hard links for files nothing rewrites in
# place; Keycloak, which re-augments its dist, is copied).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: scripts/reliability.sh [--quick]" >&2; exit 2 ;;
esac

default_home="${HOME:-/root}/.opsdeck"
export OPSDECK_HOME="${OPSDECK_HOME:-${HOME:-/root}/.opsdeck-reliability}"
[ "${OPSDECK_HOME%/}" = "$default_home" ] && { echo "reliability.sh stops services: OPSDECK_HOME must not be the shared $default_home" >&2; exit 2; }
export OPSDECK_PG_PORT="${OPSDECK_PG_PORT:-55532}" OPSDECK_REDIS_PORT="${OPSDECK_REDIS_PORT:-56479}" \
  OPSDECK_KAFKA_PORT="${OPSDECK_KAFKA_PORT:-59192}" OPSDECK_KAFKA_CONTROLLER_PORT="${OPSDECK_KAFKA_CONTROLLER_PORT:-59193}" \
  OPSDECK_ENGINE_PORT="${OPSDECK_ENGINE_PORT:-58280}" OPSDECK_KEYCLOAK_PORT="${OPSDECK_KEYCLOAK_PORT:-58380}"
source scripts/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"
export CARGO_TERM_COLOR=never

if [ ! -d "$DIST/kafka" ] && [ -d "$default_home/dist" ]; then
  log "reusing the downloads of $default_home/dist"
  for d in engine kafka maven; do [ -d "$default_home/dist/$d" ] && cp -al "$default_home/dist/$d" "$DIST/"; done
  if [ -d "$default_home/dist/keycloak" ]; then
    cp -a "$default_home/dist/keycloak" "$DIST/"
    find "$DIST/keycloak" -maxdepth 2 -name data -type l -delete   # re-pointed by keycloak_install
  fi
fi

log "the suites' own stack in $OPSDECK_HOME"
bash scripts/stack.sh up postgres redis kafka engine keycloak >"$LOGS/reliability-stack.log" 2>&1 \
  || { tail -n 40 "$LOGS/reliability-stack.log" >&2; die "the stack did not come up"; }
eval "$(bash scripts/stack.sh env)"
export RELIABILITY_QUICK=$quick RUST_LOG="${RUST_LOG:-warn}"

log "building the suites"
cargo build -p server --bin opsdeck --locked
cargo test -p server --test reliability --test api --no-run --locked
cargo test -p ops --test parse_properties --no-run --locked

out="$LOGS/reliability-run.log"
: >"$out"
suite() {  # suite <minutes> <cargo test args...>: runs, keeps the output, never stops the script
  local minutes=$1; shift
  log "cargo test $* (at most $minutes min)"
  timeout --kill-after=30 "$((minutes * 60))" cargo test -p server --locked "$@" 2>&1 | tee -a "$out" | grep -E '^\[reliability\]|^test |test result' || true
}
suite 30 --test reliability crash -- --ignored --nocapture --test-threads 1
suite 30 --test reliability outages -- --ignored --nocapture --test-threads 1
suite 15 --test api hostile -- --include-ignored --nocapture
suite 15 --test api -- access escape csrf service_tokens sign_in repairs --test-threads 2
log "cargo test -p ops --test parse_properties (proptest over the form parsers)"
PROPTEST_CASES=$([ "$quick" = 1 ] && echo 512 || echo 5000) timeout 900 cargo test -p ops --locked --test parse_properties 2>&1 \
  | tee -a "$out" | grep -E '^test |test result' || true

# The internal API under schemathesis, from the document the console serves.
api_log="$LOGS/reliability-schemathesis.log"
: >"$api_log"
venv="$OPSDECK_HOME/venv"
if [ ! -x "$venv/bin/st" ]; then
  log "installing schemathesis (PyPI) into $venv"
  { python3 -m venv "$venv" && "$venv/bin/pip" install -q schemathesis; } >>"$api_log" 2>&1 || log "schemathesis could not be installed"
fi
if [ -x "$venv/bin/st" ]; then
  bin="$CARGO_TARGET_DIR/debug/opsdeck"
  "$bin" migrate >>"$api_log" 2>&1
  port=38481
  OPSDECK_LISTEN=127.0.0.1:$port OPSDECK_RECONCILE_INTERVAL_MINUTES=0 OPSDECK_INTERNAL_API_PER_MINUTE=0 "$bin" serve >>"$LOGS/reliability-serve.log" 2>&1 &
  serve_pid=$!
  wait_until 60 console curl -fs "http://127.0.0.1:$port/healthz" || true
  token=$(curl -fs "$OPSDECK_OIDC_ISSUER/protocol/openid-connect/token" -d grant_type=client_credentials \
      -d client_id=opsdeck-internal -d "client_secret=$OPSDECK_INTERNAL_CLIENT_SECRET" -d scope=ops.repair \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  examples=$([ "$quick" = 1 ] && echo 40 || echo 300)
  log "schemathesis: $examples examples an operation"
  set +e
  timeout 900 "$venv/bin/st" run "http://127.0.0.1:$port/internal/v1/openapi.json" \
    -H "Authorization: Bearer $token" --checks not_a_server_error --max-examples "$examples" --generation-database none \
    --mode all --phases examples,coverage,fuzzing --no-color >>"$api_log" 2>&1
  st_rc=$?
  set -e
  echo "[schemathesis] exit $st_rc" >>"$api_log"
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
fi

soak_out="$LOGS/reliability-soak.md"
rm -f "$soak_out"
# The soak builds its own dataset and runs for minutes: only when asked (RELIABILITY_SOAK=1).
if [ -f bench/soak.sh ] && [ "${RELIABILITY_SOAK:-0}" = 1 ]; then
  log "soak: bench/soak.sh"
  soak_args=(); [ "$quick" = 1 ] && soak_args=(--minutes 1 --sessions 10 --orders 20000)
  bash bench/soak.sh "${soak_args[@]}" >"$soak_out" 2>>"$LOGS/reliability-soak.log" || echo "bench/soak.sh exited $? (errors, or memory not flat)" >>"$soak_out"
fi

python3 scripts/reliability_report.py "$out" "$api_log" "$soak_out" "$quick" >"$ROOT/RELIABILITY.md"
log "wrote RELIABILITY.md"
grep -E '^\| ' "$ROOT/RELIABILITY.md" | head -20
