#!/usr/bin/env bash
# Runs every opsdeck test on this machine, from nothing:
#   1. the service stack (PostgreSQL, Redis, Kafka, Operaton, Keycloak, Chromium) is installed where
#      missing and started — in the background while the Rust tests compile;
#   2. cargo test for the whole workspace: unit tests, database integration tests (a fresh database per
#      test), and the service smoke tests over real connections;
#   3. the smoke slice of the crash suite (scripts/reliability.sh runs the long suites);
#   4. the browser tests (node --test end2end/tests) in Debian's Chromium against a console serving a
#      freshly seeded database.
# Build output is cached outside the clone ($CARGO_TARGET_DIR, default $OPSDECK_HOME/target).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
eval "$(bash scripts/stack.sh env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OPSDECK_HOME/target}"
export CARGO_TERM_COLOR=never
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"

stack_log="$LOGS/stack-up.log"
log "starting the service stack in the background (log: $stack_log)"
bash scripts/stack.sh up >"$stack_log" 2>&1 &
stack_pid=$!

log "building tests"
cargo build --workspace --tests --bins --locked

if ! wait "$stack_pid"; then
  tail -n 60 "$stack_log" >&2
  die "the service stack did not come up"
fi
bash scripts/stack.sh status

# promtool (Debian's prometheus package) checks the alert rules in deploy/prometheus/.
command -v promtool >/dev/null || apt_install prometheus
export OPSDECK_REQUIRE_PROMTOOL=1
log "cargo test"
cargo test --workspace --locked --no-fail-fast

# The smoke slice of the crash suite (scripts/reliability.sh runs it whole, with the outage suites that
# stop services): relays and projection consumers SIGKILLed 20 times under traffic, nothing lost or doubled.
log "reliability smoke: the crash suite's quick slice"
RELIABILITY_QUICK=1 cargo test -p server --test reliability --locked crash -- --ignored --test-threads 1

log "browser tests"
bash scripts/e2e.sh
