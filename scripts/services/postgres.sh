# PostgreSQL from Debian's packages, as its own cluster under $DATA/postgres on a fixed loopback port.
# Creates role and database `opsdeck` (password `opsdeck`, loopback only) for the console and platform.
# The cluster lives outside $OPSDECK_HOME because the server runs as the `postgres` user, which may not
# traverse root's home; the log still goes to $LOGS (the file is opened by this script, as root).
PG_BIN() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }
: "${OPSDECK_PG_DATA:=/var/lib/opsdeck-postgres/$OPSDECK_PG_PORT}"
PG_DATA="$OPSDECK_PG_DATA/data"; PG_SOCK="$OPSDECK_PG_DATA/run"

postgres_install() {
  [ -n "$(PG_BIN)" ] && [ -x "$(PG_BIN)/initdb" ] || apt_install postgresql postgresql-contrib
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initdb $PG_DATA"
    mkdir -p "$PG_DATA" "$PG_SOCK"; chown -R postgres:postgres "$OPSDECK_PG_DATA"; chmod 700 "$PG_DATA"
    runuser -u postgres -- "$(PG_BIN)/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres.log" 2>&1 || die "initdb failed"
    cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $OPSDECK_PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 256MB
synchronous_commit = off
max_wal_size = 4GB
shared_preload_libraries = 'pg_stat_statements'
log_min_duration_statement = 1000
CONF
  fi
}

postgres_start() {
  start_bg postgres runuser -u postgres -- "$(PG_BIN)/postgres" -D "$PG_DATA"
  wait_until 60 postgres runuser -u postgres -- "$(PG_BIN)/pg_isready" -q -h "$PG_SOCK" -p "$OPSDECK_PG_PORT" \
    || die "postgres did not start (see $LOGS/postgres.log)"
  local psql=("$(PG_BIN)/psql" -h "$PG_SOCK" -p "$OPSDECK_PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  runuser -u postgres -- "${psql[@]}" -c "select 1 from pg_roles where rolname='opsdeck'" | grep -q 1 ||
    runuser -u postgres -- "${psql[@]}" -c "create role opsdeck login createdb password 'opsdeck'"
  runuser -u postgres -- "${psql[@]}" -c "select 1 from pg_database where datname='opsdeck'" | grep -q 1 ||
    runuser -u postgres -- "${psql[@]}" -c "create database opsdeck owner opsdeck"
  # In template1 too, so every database created later (the tests' own) has the view the postgres-locks
  # runbook reads.
  local db
  for db in opsdeck template1; do
    runuser -u postgres -- "${psql[@]}" -d "$db" -c "create extension if not exists pg_stat_statements"
  done
}

postgres_ready() {
  [ -n "$(PG_BIN)" ] || return 1
  PGPASSWORD=opsdeck "$(PG_BIN)/psql" -h 127.0.0.1 -p "$OPSDECK_PG_PORT" -U opsdeck -d opsdeck -qtAc 'select 1' 2>/dev/null | grep -q 1
}

postgres_stop() {
  [ -f "$PG_DATA/postmaster.pid" ] || return 0
  log "stopping postgres"
  runuser -u postgres -- "$(PG_BIN)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true
  rm -f "$RUN/postgres.pid"
}

postgres_timeout() { echo 60; }
