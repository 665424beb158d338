#!/usr/bin/env bash
# A throwaway RabbitMQ broker on 127.0.0.1:5672 for the tests and the distributed mode, run as a plain process
# (no systemd): all state under $PLATFORM_RABBITMQ_DIR (default /tmp/platform-rabbitmq), node rabbit@localhost,
# epmd and Erlang distribution bound to 127.0.0.1.
#   scripts/rabbitmq.sh install   apt-get install rabbitmq-server when it is not installed
#   scripts/rabbitmq.sh start     start the broker and wait until it accepts connections
#   scripts/rabbitmq.sh stop      rabbitmqctl shutdown, then stop epmd
set -euo pipefail

RMQ_DIR="${PLATFORM_RABBITMQ_DIR:-/tmp/platform-rabbitmq}"
SBIN=/usr/lib/rabbitmq/bin
LOOPBACK_DIST='-kernel inet_dist_use_interface {127,0,0,1}'

rmq_env() {
  export HOME="$RMQ_DIR"
  export RABBITMQ_NODENAME=rabbit@localhost
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=5672
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$LOOPBACK_DIST"
  export RABBITMQ_CTL_ERL_ARGS="$LOOPBACK_DIST"
  export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
  export RABBITMQ_LOG_BASE="$RMQ_DIR/log"
  export RABBITMQ_PID_FILE="$RMQ_DIR/rabbit.pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq"
}

cmd="${1:-start}"
case "$cmd" in
  install)
    if [ ! -x "$SBIN/rabbitmq-server" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq rabbitmq-server >/dev/null
    fi
    ;;
  start)
    [ -x "$SBIN/rabbitmq-server" ] || { echo "rabbitmq.sh: rabbitmq-server is not installed (run: $0 install)" >&2; exit 1; }
    mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
    rmq_env
    printf 'listeners.tcp.default = 127.0.0.1:5672\nloopback_users.guest = true\n' > "$RMQ_DIR/rabbitmq.conf"
    echo '[].' > "$RMQ_DIR/enabled_plugins"
    if "$SBIN/rabbitmqctl" -q status >/dev/null 2>&1; then
      echo "rabbitmq.sh: already running"
      exit 0
    fi
    nohup "$SBIN/rabbitmq-server" >"$RMQ_DIR/server.out" 2>&1 &
    if ! "$SBIN/rabbitmqctl" wait "$RABBITMQ_PID_FILE" --timeout 90 >/dev/null 2>&1; then
      echo "rabbitmq.sh: the broker did not start; last lines of $RMQ_DIR/server.out:" >&2
      tail -20 "$RMQ_DIR/server.out" >&2 || true
      exit 1
    fi
    echo "amqp://guest:guest@127.0.0.1:5672/"
    ;;
  stop)
    if [ -x "$SBIN/rabbitmqctl" ] && [ -d "$RMQ_DIR" ]; then
      rmq_env
      "$SBIN/rabbitmqctl" -q shutdown >/dev/null 2>&1 || true
      epmd -kill >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
