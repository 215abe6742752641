# Operaton process engine (open-source successor of Camunda 7, same REST API at /engine-rest), as the
# minimal Spring Boot fixture in end2end/engine. Sourced by scripts/stack.sh (after lib.sh).
#
#   jar   $DIST/engine/opsdeck-engine.jar  built by Maven from end2end/engine; rebuilt only when the
#                                          fixture's source (pom.xml, src/) changes (checksum stamp)
#   data  $DATA/engine/operaton.mv.db      H2 file database (schema created/updated at start)
#   REST  http://127.0.0.1:$OPSDECK_ENGINE_PORT/engine-rest  (no webapps, no authentication, loopback only)

ENGINE_SRC="$STACK_ROOT/end2end/engine"
ENGINE_JAR="$DIST/engine/opsdeck-engine.jar"
ENGINE_HEAP="${OPSDECK_ENGINE_HEAP:--Xms128m -Xmx384m}"

_engine_src_sum() {
  (cd "$ENGINE_SRC" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
    | sha256sum | cut -d' ' -f1
}

engine_install() {
  local stamp="$DIST/engine/.src.sha256" sum
  sum=$(_engine_src_sum)
  if [ -s "$ENGINE_JAR" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then return 0; fi
  mkdir -p "$DIST/engine"
  log "engine: building end2end/engine with Maven (log: $LOGS/engine-install.log)"
  # the build directory lives outside the repo too
  mvn_batch "$LOGS/engine-install.log" -f "$ENGINE_SRC/pom.xml" package -DskipTests \
      -Dengine.build.dir="$DIST/engine/build" \
    || die "engine: Maven build failed (see $LOGS/engine-install.log)"
  # copy, then rename: a process still running the old jar keeps its file
  cp "$DIST/engine/build/opsdeck-engine.jar" "$ENGINE_JAR.new"
  mv "$ENGINE_JAR.new" "$ENGINE_JAR"
  echo "$sum" >"$stamp"
}

engine_start() {
  if pid_alive engine; then log "engine: already starting (pid $(cat "$RUN/engine.pid"))"; return 0; fi
  port_open "$OPSDECK_ENGINE_PORT" && die "engine: port $OPSDECK_ENGINE_PORT is taken by something that is not the engine"
  mkdir -p "$DATA/engine"
  export OPSDECK_ENGINE_DATA="$DATA/engine"   # read by application.yaml, like OPSDECK_ENGINE_PORT
  # shellcheck disable=SC2086 # ENGINE_HEAP is a list of JVM options
  start_bg engine "$(jdk17_home)/bin/java" $ENGINE_HEAP \
    -XX:+UseSerialGC -XX:MaxMetaspaceSize=256m -Djava.awt.headless=true -jar "$ENGINE_JAR"
}

engine_ready() {
  curl -fsS -m 2 "http://127.0.0.1:$OPSDECK_ENGINE_PORT/engine-rest/engine" 2>/dev/null | grep -q '"name"'
}

engine_stop() { stop_bg engine; }

# a cold start (schema creation) takes ~35 s on 2 idle cores; give a busy machine room
engine_timeout() { echo 240; }
