# Redis from Debian's packages on a fixed loopback port. Acceleration only: nothing durable lives here.
redis_install() { command -v redis-server >/dev/null || apt_install redis-server; }

redis_start() {
  mkdir -p "$DATA/redis"
  start_bg redis redis-server --bind 127.0.0.1 --port "$OPSDECK_REDIS_PORT" --dir "$DATA/redis" \
    --save "" --appendonly no --maxmemory 256mb --maxmemory-policy allkeys-lru --protected-mode yes
}

redis_ready() { command -v redis-cli >/dev/null && [ "$(redis-cli -p "$OPSDECK_REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
redis_stop() { stop_bg redis; }
redis_timeout() { echo 30; }
