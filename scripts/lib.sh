#!/usr/bin/env bash
# Shared helpers for the opsdeck service stack. Sourced, never run.
#
# Everything the stack installs or writes lives under $OPSDECK_HOME (outside any clone), so a second
# run — or a fresh clone on the same machine, as CI does — reuses what is installed and running.
#   $OPSDECK_HOME/dist/<svc>   downloaded distributions and built jars
#   $OPSDECK_HOME/data/<svc>   service data
#   $OPSDECK_HOME/logs/<svc>.log
#   $OPSDECK_HOME/run/<svc>.pid
set -euo pipefail

: "${OPSDECK_HOME:=${HOME:-/root}/.opsdeck}"
export OPSDECK_HOME
STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STACK_ROOT
DIST="$OPSDECK_HOME/dist"; DATA="$OPSDECK_HOME/data"; LOGS="$OPSDECK_HOME/logs"; RUN="$OPSDECK_HOME/run"
mkdir -p "$DIST" "$DATA" "$LOGS" "$RUN"

# Fixed loopback ports (override through the environment if they clash).
: "${OPSDECK_PG_PORT:=55432}"
: "${OPSDECK_REDIS_PORT:=56379}"
: "${OPSDECK_KAFKA_PORT:=59092}"
: "${OPSDECK_KAFKA_CONTROLLER_PORT:=59093}"
: "${OPSDECK_ENGINE_PORT:=58080}"
: "${OPSDECK_KEYCLOAK_PORT:=58180}"
export OPSDECK_PG_PORT OPSDECK_REDIS_PORT OPSDECK_KAFKA_PORT OPSDECK_KAFKA_CONTROLLER_PORT \
  OPSDECK_ENGINE_PORT OPSDECK_KEYCLOAK_PORT

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

APT_UPDATED="$RUN/.apt-updated"
# Installs Debian packages that are missing; runs `apt-get update` at most once a day.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -f "$APT_UPDATED" ] || [ -n "$(find "$APT_UPDATED" -mmin +1440 2>/dev/null)" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >"$LOGS/apt.log" 2>&1 || die "apt-get update failed (see $LOGS/apt.log)"
    touch "$APT_UPDATED"
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed (see $LOGS/apt.log)"
}

# Is a TCP port on loopback accepting connections?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until <seconds> <description> <command...>: polls once a second until the command succeeds.
wait_until() {
  local secs=$1 what=$2; shift 2
  local i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -ge "$secs" ] && { log "$what: not ready after ${secs}s"; return 1; }
    sleep 1
  done
}

# Process recorded in a pid file still alive?
pid_alive() { local f="$RUN/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# start_bg <svc> <command...>: starts a long-running process detached from this shell, logging to
# $LOGS/<svc>.log and recording its pid, so it outlives the script that started it.
start_bg() {
  local svc=$1; shift
  log "starting $svc (log: $LOGS/$svc.log)"
  setsid nohup "$@" >>"$LOGS/$svc.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$svc.pid"
}

# stop_bg <svc>: TERM, then KILL after 20 s.
stop_bg() {
  local svc=$1 f="$RUN/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $svc (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Downloads a Maven Central artifact into $DIST/maven (cached). Prints the local path.
# maven_fetch group artifact version [packaging] [classifier]
maven_fetch() {
  local g=$1 a=$2 v=$3 ext=${4:-jar} cls=${5:-}
  local file="$a-$v${cls:+-$cls}.$ext"
  local dir="$DIST/maven/${g//.//}/$a/$v"
  mkdir -p "$dir"
  if [ ! -s "$dir/$file" ]; then
    local url="https://repo1.maven.org/maven2/${g//.//}/$a/$v/$file"
    log "downloading $file"
    curl -fsSL --retry 3 -o "$dir/$file.part" "$url" || die "download failed: $url"
    mv "$dir/$file.part" "$dir/$file"
  fi
  printf '%s\n' "$dir/$file"
}

JAVA17_HOME=/usr/lib/jvm/java-17-openjdk-amd64
JAVA25_HOME=$(ls -d /usr/lib/jvm/temurin-25* 2>/dev/null | head -n1 || true)

# jdk17_home: prints the home of a JDK 17 for Java services and Maven (installs Debian's if none).
jdk17_home() {
  if [ ! -x "$JAVA17_HOME/bin/javac" ]; then apt_install openjdk-17-jdk-headless; fi
  printf '%s\n' "$JAVA17_HOME"
}

# mvn_batch <logfile> <maven args...>: runs Maven (Debian's, installed if missing) on JDK 17 in batch
# mode with its output in <logfile>; the local repository is the default ~/.m2, shared by every run.
mvn_batch() {
  local logf=$1; shift
  command -v mvn >/dev/null 2>&1 || apt_install maven
  JAVA_HOME="$(jdk17_home)" mvn -B --no-transfer-progress "$@" >"$logf" 2>&1
}
