# Shared by bench/lib/pages.sh and bench/soak.sh (sourced): start `opsdeck serve` on the benchmark
# database, wait for it, sign sessions in, read its memory.
#
# The console listens on 127.0.0.1:$BENCH_PORT while its public URL is one the Keycloak realm registers
# (http://localhost:3000): sign-in redirects name that URL, and bench/lib/sign-in.sh calls the callback on
# the real address. Nothing has to listen on port 3000. The internal API's per-client rate limit is off
# (OPSDECK_INTERNAL_API_PER_MINUTE=0): a load test is one client sending far more than 600 requests a minute.

BENCH_PORT=${BENCH_PORT:-3941}
console="http://127.0.0.1:$BENCH_PORT"
public="http://localhost:3000"

# start_console <opsdeck binary> <log file>: sets console_pid, listening_s, ready_s.
start_console() {
  local bin=$1 logfile=$2 t0 now
  t0=$(date +%s.%N)
  DATABASE_URL="$BENCH_DATABASE_URL" OPSDECK_LISTEN="127.0.0.1:$BENCH_PORT" OPSDECK_PUBLIC_URL="$public" \
    OPSDECK_INTERNAL_API_PER_MINUTE=0 RUST_LOG="${RUST_LOG:-warn}" "$bin" serve >"$logfile" 2>&1 &
  console_pid=$!
  listening_s="" ready_s=""
  # Each time is taken when the probe that succeeded has answered.
  for _ in $(seq 1 6000); do
    if [ -z "$listening_s" ] && curl -fs -o /dev/null "$console/healthz"; then
      listening_s=$(echo "$(date +%s.%N) - $t0" | bc -l)
    fi
    if [ -n "$listening_s" ] && curl -fs -o /dev/null "$console/readyz"; then
      ready_s=$(echo "$(date +%s.%N) - $t0" | bc -l)
      break
    fi
    kill -0 "$console_pid" 2>/dev/null || { tail -n 20 "$logfile" >&2; die "opsdeck serve stopped (log: $logfile)"; }
    sleep 0.01
  done
  [ -n "$ready_s" ] || { curl -s "$console/readyz" >&2 || true; die "the console was not ready within a minute"; }
}

stop_console() {
  [ -n "${console_pid:-}" ] || return 0
  kill -INT "$console_pid" 2>/dev/null || true
  wait "$console_pid" 2>/dev/null || true
  console_pid=""
}

# rss_mb <pid>: resident memory in MB.
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# sign_in <n> <file>: n sessions of oscar.operator, one Cookie value a line.
sign_in() {
  bash "$(dirname "${BASH_SOURCE[0]}")/sign-in.sh" "$console" "$public" oscar.operator "$1" >"$2"
  [ "$(wc -l <"$2")" = "$1" ] || die "signed in $(wc -l <"$2") of $1 sessions"
}

# expect_200 <path> <cookie>: a page answers 200 for a session, or the run stops with what it said.
expect_200() {
  local code
  code=$(curl -s -o /tmp/opsdeck-bench-page.html -w '%{http_code}' -H "Cookie: $2" "$console$1")
  [ "$code" = 200 ] || die "$1 answered $code: $(head -c 400 /tmp/opsdeck-bench-page.html)"
}

# An internal-API access token (client credentials of opsdeck-internal).
api_token() {
  curl -fsS "$OPSDECK_OIDC_ISSUER/protocol/openid-connect/token" -d grant_type=client_credentials \
    -d client_id=opsdeck-internal -d "client_secret=$OPSDECK_INTERNAL_CLIENT_SECRET" | jq -r .access_token
}
