#!/usr/bin/env bash
# The demo, from nothing: installs and starts the service stack, builds the console, migrates and seeds
# the database (once), starts the live reference platform (vendor, outbox relay, projection consumer,
# engine worker, approval timer, traffic) and the console, and prints the URL and the demo users.
# Ctrl-C stops both; `scripts/stack.sh down` stops the services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"

bash scripts/stack.sh up
log "building the console"
cargo build -p server --bin opsdeck --locked
bin="$CARGO_TARGET_DIR/debug/opsdeck"

"$bin" migrate
seeded=$(psql -qtA "$DATABASE_URL" -c "select count(*) from platform.seed_run" 2>/dev/null || echo 0)
if [ "${seeded:-0}" = 0 ]; then
  log "seeding the reference platform (${OPSDECK_DEMO_ORDERS:=20000} orders)"
  "$bin" seed --orders "$OPSDECK_DEMO_ORDERS" --anomaly-rate 0.02 >"$LOGS/demo-seed.json"
fi

: "${OPSDECK_LISTEN:=127.0.0.1:3000}"
export OPSDECK_LISTEN OPSDECK_PUBLIC_URL="${OPSDECK_PUBLIC_URL:-http://$OPSDECK_LISTEN}"
example=$(psql -qtA "$DATABASE_URL" -c "select o.tenant_id || ' ' || o.order_number from oms.sales_order o
  join platform.seed_anomaly a on a.entity_id = o.order_id and a.anomaly_type = 'STUCK_ORDER' limit 1" || true)
cat <<INFO

  opsdeck console:  $OPSDECK_PUBLIC_URL
  a stuck order:    $OPSDECK_PUBLIC_URL/orders?tenant=${example%% *}&q=${example##* }

  Every page asks you to sign in (at Keycloak). Demo users (realm 'opsdeck', password opsdeck-demo):
    vera.viewer       viewer             tenant acme
    oscar.operator    operator           all tenants
    ada.approver      approver           all tenants
    cora.comms        comms              all tenants
    adam.admin        admin              all tenants
    olga.opsapprover  operator+approver  tenants acme, globex
    gwen.globex       operator           tenant globex
  Keycloak admin console: http://127.0.0.1:$OPSDECK_KEYCLOAK_PORT/admin (admin / admin, local stack only)
  Operaton REST:          $OPSDECK_ENGINE_URL
  Logs:                   $LOGS

INFO
log "starting the reference platform (log: $LOGS/demo-platform.log)"
"$bin" platform run --traffic-rate "${OPSDECK_DEMO_TRAFFIC:-0.5}" >"$LOGS/demo-platform.log" 2>&1 &
platform_pid=$!
trap 'kill -INT $platform_pid 2>/dev/null; wait $platform_pid 2>/dev/null' EXIT
cat <<INFO
  The platform is live: quotes → approvals → orders → Operaton → vendor, events through Kafka.

  Start here — the lab drill (about ten minutes; runbooks/reconciliation-mismatch.md):
    1. Sign in as oscar.operator, open $OPSDECK_PUBLIC_URL/drills and start "Reconciliation mismatch":
       a drill order is broken on purpose and a drill incident is declared.
    2. /reconciliation → Run now (Order ↔ engine, tenant "Drill practice"); open the mismatch, link the
       drill's incident, open the order.
    3. From the mismatch, "Request the suggested repair" (resume-orchestration): read the dry-run, give a reason, request it.
       (As adam.admin, /admin can make it two-person for the drill tenant first; then ada.approver
       approves it at /repairs — nobody approves their own request.)
    4. Execute it; the order's process starts in Operaton at the step it had reached; the mismatch is
       re-checked and resolved. End the drill on its page: the console scores it from the evidence.

  Break it on purpose (each fault is recorded; end it with 'platform fault end <id>'):
    $bin platform fault vendor-outage | vendor-partial | vendor-reject | crash-relay | poison-event
    $bin platform fault pause-relay | pause-consumer
    $bin platform fault order-without-process --tenant ${example%% *}
    $bin platform control set relay on --reason "why, at least ten characters"
  Repair it the governed way: open the stuck order as oscar.operator, "Resume orchestration…" shows the
  dry-run; declare an incident, request it with a reason; as adam.admin make it two-person at /admin;
  ada.approver approves at /repairs; oscar executes. /admin also verifies the audit log's hash chain.
INFO
"$bin" serve
