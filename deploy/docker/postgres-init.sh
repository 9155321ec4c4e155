#!/usr/bin/env bash
# The postgres image runs this once (/docker-entrypoint-initdb.d), as the superuser, on the first
# start with an empty data volume: postgres-init.sql with each service role's password, from the
# container's environment (env_file .data/compose/postgres.env, written by make-secrets.sh).
# psql quotes a :'variable' itself, so no password is ever spliced into the SQL text.
# No `set -u`: the image sources this file when it is not executable.
set -eo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
  -v referral_app_password="${REFERRAL_APP_PASSWORD:?from .data/compose/postgres.env}" \
  -v dispositifs_app_password="${DISPOSITIFS_APP_PASSWORD:?from .data/compose/postgres.env}" \
  -v notifications_app_password="${NOTIFICATIONS_APP_PASSWORD:?from .data/compose/postgres.env}" \
  -f /opt/coop/postgres-init.sql
