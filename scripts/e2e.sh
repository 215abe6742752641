#!/usr/bin/env bash
# Browser tests: a console on a freshly migrated and seeded database `opsdeck_e2e`, driven by
# node --test end2end/tests in Debian's Chromium (playwright-core). Expects the stack to be up.
#   scripts/e2e.sh [test file...]   (default: every test in end2end/tests)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"
cargo build -p server --bin opsdeck --locked
bin="$CARGO_TARGET_DIR/debug/opsdeck"

db=opsdeck_e2e
admin_url="postgres://opsdeck:opsdeck@127.0.0.1:$OPSDECK_PG_PORT/opsdeck"
psql -q "$admin_url" -c "drop database if exists $db with (force)" -c "create database $db"
export DATABASE_URL="postgres://opsdeck:opsdeck@127.0.0.1:$OPSDECK_PG_PORT/$db"
"$bin" migrate
"$bin" seed --orders 3000 --anomaly-rate 0.02 --rng-seed 7 >"$LOGS/e2e-seed.json"

# Sign-in goes through the stack's Keycloak (OPSDECK_OIDC_* from `stack.sh env`); its dev realm accepts
# redirects to http://127.0.0.1:38080/*, so another port means no sign-in.
port=${OPSDECK_E2E_PORT:-38080}
export OPSDECK_LISTEN="127.0.0.1:$port"
export OPSDECK_PUBLIC_URL="http://127.0.0.1:$port"
: "${OPSDECK_OIDC_ISSUER:?}" "${OPSDECK_OIDC_CLIENT_SECRET:?stack.sh env sets it}"
"$bin" serve >"$LOGS/e2e-console.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
wait_until 60 "console" curl -fsS "http://127.0.0.1:$port/healthz" || { tail -n 40 "$LOGS/e2e-console.log"; die "console did not start"; }

export OPSDECK_E2E_URL="http://127.0.0.1:$port"
# A seeded stuck order for the browser to find: "tenant|tenant slug|order id|order number|status|lines|transitions".
IFS='|' read -r OPSDECK_E2E_TENANT OPSDECK_E2E_TENANT_SLUG OPSDECK_E2E_ORDER_ID OPSDECK_E2E_ORDER_NUMBER \
  OPSDECK_E2E_ORDER_STATUS OPSDECK_E2E_LINES OPSDECK_E2E_TRANSITIONS < <(psql -qtA "$DATABASE_URL" -c "
  select o.tenant_id, t.slug, o.order_id, o.order_number, o.status,
         (select count(*) from oms.sales_order_line l where l.order_id = o.order_id),
         (select count(*) from oms.order_transition x where x.order_id = o.order_id)
  from platform.seed_anomaly a
  join oms.sales_order o on o.order_id = a.entity_id
  join platform.tenant t on t.tenant_id = o.tenant_id
  where a.anomaly_type = 'STUCK_ORDER' order by o.order_number limit 1")
[ -n "$OPSDECK_E2E_ORDER_ID" ] || die "the seed produced no stuck order to test with"
export OPSDECK_E2E_TENANT OPSDECK_E2E_TENANT_SLUG OPSDECK_E2E_ORDER_ID OPSDECK_E2E_ORDER_NUMBER \
  OPSDECK_E2E_ORDER_STATUS OPSDECK_E2E_LINES OPSDECK_E2E_TRANSITIONS
# Another seeded stuck order, stalled in ORCHESTRATING with no process instance, for the repair flow to
# resume through the real engine: "tenant|order id|order number".
IFS='|' read -r OPSDECK_E2E_REPAIR_TENANT OPSDECK_E2E_REPAIR_ORDER_ID OPSDECK_E2E_REPAIR_ORDER_NUMBER < <(psql -qtA "$DATABASE_URL" -c "
  select o.tenant_id, o.order_id, o.order_number
  from platform.seed_anomaly a join oms.sales_order o on o.order_id = a.entity_id
  where a.anomaly_type = 'STUCK_ORDER' and o.status = 'ORCHESTRATING' and o.order_id <> '$OPSDECK_E2E_ORDER_ID'
  order by o.order_number limit 1")
[ -n "$OPSDECK_E2E_REPAIR_ORDER_ID" ] || die "the seed produced no order stuck in ORCHESTRATING to repair"
export OPSDECK_E2E_REPAIR_TENANT OPSDECK_E2E_REPAIR_ORDER_ID OPSDECK_E2E_REPAIR_ORDER_NUMBER
# A seeded approval past its SLA, for the repair-parameters journey (reassign-approver): "tenant|approval id".
IFS='|' read -r OPSDECK_E2E_APPROVAL_TENANT OPSDECK_E2E_APPROVAL_ID < <(psql -qtA "$DATABASE_URL" -c "
  select r.tenant_id, r.approval_request_id
  from platform.seed_anomaly a join cpq.approval_request r on r.approval_request_id = a.entity_id
  where a.anomaly_type = 'OVERDUE_APPROVAL' and r.status in ('PENDING', 'ESCALATED')
  order by r.approval_request_id limit 1")
[ -n "$OPSDECK_E2E_APPROVAL_ID" ] || die "the seed produced no overdue approval to reassign"
export OPSDECK_E2E_APPROVAL_TENANT OPSDECK_E2E_APPROVAL_ID
# The process model the resumed order starts in (what `platform run` deploys at start).
"$bin" platform deploy >/dev/null
( cd end2end && npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund >/dev/null )
# Arguments name test files to run only those (e.g. end2end/tests/lab-drill.test.js); default: all.
if [ $# -gt 0 ]; then node --test --test-concurrency=1 "$@"; else node --test --test-concurrency=1 end2end/tests/; fi
