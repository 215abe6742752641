# Keycloak: the OIDC identity provider of the local dev stack (DESIGN.md §6, §7). Sourced by stack.sh.
#
# keycloak-quarkus-dist from Maven Central, unpacked under $DIST/keycloak and run in dev mode
# (start-dev, H2 file database) on Temurin 25 with a capped heap, on 127.0.0.1 only:
#   http://127.0.0.1:$OPSDECK_KEYCLOAK_PORT            (58180) OIDC, login pages, admin console
#   http://127.0.0.1:$OPSDECK_KEYCLOAK_MGMT_PORT/health (58181: the HTTP port + 1 unless set) health endpoints
# The dist's data/ directory is a symlink to $DATA/keycloak, so the dev database (h2/), the import
# directory (import/) and Keycloak's tmp files live with the rest of the stack's data.
#
# The realm comes from the committed file end2end/keycloak/opsdeck-realm.json (--import-realm). Keycloak
# only imports a realm that does not exist yet, so the checksum of the imported file is kept in
# $DATA/keycloak/realm.sha256: when the committed file differs, keycloak_ready reports "not ready" and
# keycloak_start stops Keycloak, deletes the dev database and imports the file afresh. Changes made by
# hand in the admin console are lost then — put them in the realm file.
#
# The issuer is pinned to http://127.0.0.1:$OPSDECK_KEYCLOAK_PORT (--hostname), so tokens carry the
# same `iss` whether Keycloak was reached as 127.0.0.1 or as localhost.
#
# Bootstrap admin of the master realm (dev stack only): KC_BOOTSTRAP_ADMIN_USERNAME /
# KC_BOOTSTRAP_ADMIN_PASSWORD, default admin / admin; applied when the dev database is created.

: "${OPSDECK_KEYCLOAK_VERSION:=26.7.3}"
: "${OPSDECK_KEYCLOAK_MGMT_PORT:=$((OPSDECK_KEYCLOAK_PORT + 1))}"
export OPSDECK_KEYCLOAK_MGMT_PORT

KC_HOME_DIR="$DIST/keycloak/keycloak-$OPSDECK_KEYCLOAK_VERSION"
KC_DATA_DIR="$DATA/keycloak"
KC_REALM_FILE="$STACK_ROOT/end2end/keycloak/opsdeck-realm.json"
KC_URL="http://127.0.0.1:$OPSDECK_KEYCLOAK_PORT"

_kc_realm_sum() { sha256sum "$KC_REALM_FILE" | cut -d' ' -f1; }
_kc_imported_sum() { cat "$KC_DATA_DIR/realm.sha256" 2>/dev/null || true; }

# On 2 cores: first start ~2 min (Quarkus re-augmentation for dev mode, then a new database and the
# import), a realm re-import ~1 min, a plain restart 15-30 s.
keycloak_timeout() { echo 300; }

keycloak_install() {
  [ -n "$JAVA25_HOME" ] && [ -x "$JAVA25_HOME/bin/java" ] || die "keycloak needs Java 21+; no Temurin 25 under /usr/lib/jvm"
  [ -f "$KC_REALM_FILE" ] || die "realm file missing: $KC_REALM_FILE"
  # A broken realm file would otherwise only show as a Keycloak that never becomes ready.
  python3 -m json.tool "$KC_REALM_FILE" >/dev/null || die "realm file is not valid JSON: $KC_REALM_FILE"
  if [ ! -x "$KC_HOME_DIR/bin/kc.sh" ]; then
    local tgz; tgz=$(maven_fetch org.keycloak keycloak-quarkus-dist "$OPSDECK_KEYCLOAK_VERSION" tar.gz)
    log "unpacking keycloak $OPSDECK_KEYCLOAK_VERSION"
    rm -rf "$KC_HOME_DIR.part"; mkdir -p "$KC_HOME_DIR.part"
    tar -xzf "$tgz" -C "$KC_HOME_DIR.part" --strip-components=1 || die "cannot unpack $tgz"
    mv "$KC_HOME_DIR.part" "$KC_HOME_DIR"
  fi
  mkdir -p "$KC_DATA_DIR/import"
  # a dist copied from another OPSDECK_HOME still points at that stack's data: re-point it
  if [ ! -L "$KC_HOME_DIR/data" ] || [ "$(readlink "$KC_HOME_DIR/data")" != "$KC_DATA_DIR" ]; then
    rm -rf "$KC_HOME_DIR/data"
    ln -s "$KC_DATA_DIR" "$KC_HOME_DIR/data"
  fi
}

keycloak_start() {
  local sum; sum=$(_kc_realm_sum)
  if pid_alive keycloak; then
    [ "$(_kc_imported_sum)" = "$sum" ] && return 0   # still booting; stack.sh waits for it
    log "keycloak: $KC_REALM_FILE changed; restarting with a fresh dev database"
    stop_bg keycloak
  fi
  if [ "$(_kc_imported_sum)" != "$sum" ]; then
    [ -d "$KC_DATA_DIR/h2" ] && log "keycloak: deleting the dev database to re-import the realm"
    rm -rf "$KC_DATA_DIR/h2" "$KC_DATA_DIR/realm.sha256"
  fi
  port_open "$OPSDECK_KEYCLOAK_PORT" && die "port $OPSDECK_KEYCLOAK_PORT is taken by a process this stack did not start"
  cp "$KC_REALM_FILE" "$KC_DATA_DIR/import/opsdeck-realm.json"
  start_bg keycloak env \
    JAVA_HOME="$JAVA25_HOME" \
    JAVA_OPTS_KC_HEAP="${JAVA_OPTS_KC_HEAP:--Xms64m -Xmx512m}" \
    KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}" \
    KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin}" \
    "$KC_HOME_DIR/bin/kc.sh" start-dev \
      --http-host=127.0.0.1 --http-port="$OPSDECK_KEYCLOAK_PORT" \
      --hostname="$KC_URL" \
      --health-enabled=true \
      --http-management-host=127.0.0.1 --http-management-port="$OPSDECK_KEYCLOAK_MGMT_PORT" \
      --log-console-color=false \
      --import-realm
  echo "$sum" >"$KC_DATA_DIR/realm.sha256"
}

# Usable = the opsdeck realm answers discovery and was imported from the committed realm file.
keycloak_ready() {
  [ -f "$KC_REALM_FILE" ] && [ "$(_kc_imported_sum)" = "$(_kc_realm_sum)" ] || return 1
  curl -fs -o /dev/null --max-time 3 "$KC_URL/realms/opsdeck/.well-known/openid-configuration"
}

keycloak_stop() { stop_bg keycloak; }
