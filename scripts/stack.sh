#!/usr/bin/env bash
# opsdeck service stack: installs what is missing and starts it on loopback, idempotently.
#
#   scripts/stack.sh up     [svc...]   install + start + wait until ready (default: all)
#   scripts/stack.sh down   [svc...]   stop
#   scripts/stack.sh status [svc...]   ready / down for each
#   scripts/stack.sh env               print the environment the console and tests use
#
# Services: postgres redis kafka engine keycloak chromium. Logs: $OPSDECK_HOME/logs (default ~/.opsdeck).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(postgres redis kafka engine keycloak chromium)
for s in "${ALL[@]}"; do source "$STACK_ROOT/scripts/services/$s.sh"; done

cmd=${1:-up}; shift || true
svcs=("$@"); [ ${#svcs[@]} -eq 0 ] && svcs=("${ALL[@]}")

print_env() {
  cat <<ENV
export DATABASE_URL=postgres://opsdeck:opsdeck@127.0.0.1:$OPSDECK_PG_PORT/opsdeck
export OPSDECK_REDIS_URL=redis://127.0.0.1:$OPSDECK_REDIS_PORT
export OPSDECK_KAFKA_BROKERS=127.0.0.1:$OPSDECK_KAFKA_PORT
export OPSDECK_ENGINE_URL=http://127.0.0.1:$OPSDECK_ENGINE_PORT/engine-rest
export OPSDECK_OIDC_ISSUER=http://127.0.0.1:$OPSDECK_KEYCLOAK_PORT/realms/opsdeck
export OPSDECK_OIDC_CLIENT_ID=opsdeck-console
export OPSDECK_OIDC_CLIENT_SECRET=opsdeck-console-dev-secret
export OPSDECK_INTERNAL_CLIENT_SECRET=opsdeck-internal-dev-secret
export OPSDECK_CHROMIUM=/usr/bin/chromium
ENV
}

case "$cmd" in
  up)
    for s in "${svcs[@]}"; do
      if "${s}_ready"; then log "$s: already ready"; continue; fi
      "${s}_install"
      "${s}_start"
      wait_until "$(${s}_timeout 2>/dev/null || echo 120)" "$s" "${s}_ready" || { log "last lines of $LOGS/$s.log:"; tail -n 40 "$LOGS/$s.log" >&2 || true; die "$s did not become ready"; }
      log "$s: ready"
    done ;;
  down)
    for s in "${svcs[@]}"; do "${s}_stop"; done ;;
  status)
    rc=0
    for s in "${svcs[@]}"; do
      if "${s}_ready"; then echo "$s: ready"; else echo "$s: down"; rc=1; fi
    done
    exit $rc ;;
  env) print_env ;;
  *) die "usage: stack.sh up|down|status|env [svc...]" ;;
esac
