#!/usr/bin/env bash
# Installs (Debian package) and starts a local PostgreSQL on 127.0.0.1:5432, then creates the role
# `coop` (password `coop`, CREATEDB so tests can make throwaway databases) and one database per
# service. Idempotent. Needs root (apt-get, and running the server as the postgres user).
set -euo pipefail

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  echo "• PostgreSQL: installing the Debian package…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^${version} main$"; then
  pg_createcluster "$version" main >/dev/null
fi
status=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}')
if [ "$status" != "online" ]; then
  echo "• PostgreSQL ${version}: starting…"
  # A server stopped abruptly recovers first (it syncs its data directory): wait for it rather
  # than give up after pg_ctl's default minute.
  pg_ctlcluster "$version" main start -- -t 600
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
for _ in $(seq 1 1200); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port"

psql_admin() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -p "$port" "$@"; }
psql_admin -tc "SELECT 1 FROM pg_roles WHERE rolname = 'coop'" | grep -q 1 \
  || psql_admin -c "CREATE ROLE coop LOGIN PASSWORD 'coop' CREATEDB"
for db in referral dispositifs notifications; do
  psql_admin -tc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql_admin -c "CREATE DATABASE $db OWNER coop"
done
echo "• PostgreSQL ${version} ready on 127.0.0.1:${port} (role coop, databases referral, dispositifs, notifications)"
