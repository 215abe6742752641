# Sourced by bench/relay.sh and bench/projection.sh: a platform example, built (unless bench/run.sh built
# it already: BENCH_NO_BUILD=1) in the profile BENCH_PROFILE (default release).
#   example_path <name>   prints the path of the built example
example_path() {
  local name=$1 profile=${BENCH_PROFILE:-release}
  if [ -z "${BENCH_NO_BUILD:-}" ]; then
    log "building $name ($profile)"
    cargo build --profile "$profile" -p platform --example "$name" --locked >&2
  fi
  local dir=$profile
  [ "$profile" = dev ] && dir=debug
  printf '%s\n' "$CARGO_TARGET_DIR/$dir/examples/$name"
}
