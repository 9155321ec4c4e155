#!/usr/bin/env bash
# docker-compose.yml's broker command: SASL/SCRAM-SHA-512 needs a first user before the broker can
# authenticate anyone, and KRaft keeps SCRAM credentials in its metadata log, so the super user
# coop-admin is written into the storage when it is formatted (`kafka-storage.sh format
# --add-scram`), which the apache/kafka image's own start-up cannot do. This script does only that,
# then hands over to the image's start-up (/etc/kafka/docker/run: configuration from the KAFKA_*
# variables, formatting, which finds the storage formatted, and the broker).
#
# It also gives the SASL listeners the admin's JAAS line (the broker's own credentials on them)
# and writes the admin's client configuration for the healthcheck, both from
# COOP_KAFKA_ADMIN_PASSWORD (.data/compose/broker.env, made by deploy/docker/make-secrets.sh).
#
# COOP_KAFKA_HOME, COOP_KAFKA_RUN and COOP_KAFKA_ADMIN_CLIENT_CONFIG move it, for the test that runs
# it outside Docker with the same Kafka jars (tests/production/test_kafka_access_command.py).
set -euo pipefail

: "${COOP_KAFKA_ADMIN_PASSWORD:?run deploy/docker/make-secrets.sh before docker compose up}"
: "${CLUSTER_ID:?KRaft needs CLUSTER_ID}"
admin="${COOP_KAFKA_ADMIN_USER:-coop-admin}"
mechanism="SCRAM-SHA-512"
kafka_home="${COOP_KAFKA_HOME:-/opt/kafka}"
run="${COOP_KAFKA_RUN:-/etc/kafka/docker/run}"
client_config="${COOP_KAFKA_ADMIN_CLIENT_CONFIG:-/tmp/coop-admin-client.properties}"

jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"${admin}\" password=\"${COOP_KAFKA_ADMIN_PASSWORD}\";"
# listener.name.<listener>.scram-sha-512.sasl.jaas.config, in the image's variable spelling
# (_ is ., ___ is -): every SASL listener of KAFKA_LISTENER_SECURITY_PROTOCOL_MAP.
IFS=',' read -r -a pairs <<< "${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:-}"
for pair in "${pairs[@]}"; do
  listener="${pair%%:*}"
  protocol="${pair#*:}"
  if [[ "$protocol" == SASL_* ]]; then
    export "KAFKA_LISTENER_NAME_${listener^^}_SCRAM___SHA___512_SASL_JAAS_CONFIG=${jaas}"
  fi
done

umask 077
printf '%s\n' \
  "security.protocol=SASL_PLAINTEXT" \
  "sasl.mechanism=${mechanism}" \
  "sasl.jaas.config=${jaas}" > "$client_config"

# The broker's configuration as the image renders it from the KAFKA_* variables (lower case,
# _ → ., ___ → -, __ → _), for the storage tool only; removed once formatted.
format_config="$(mktemp)"
trap 'rm -f "$format_config"' EXIT
for name in $(compgen -e); do
  case "$name" in
    KAFKA_HOME | KAFKA_VERSION | KAFKA_HEAP_OPTS | KAFKA_HEAP_OPT | KAFKA_LOG4J_OPTS | KAFKA_OPTS | \
      KAFKA_JMX_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_LOG4J_ROOT_LOGLEVEL | \
      KAFKA_LOG4J_LOGGERS | KAFKA_TOOLS_LOG4J_LOGLEVEL | KAFKA_JMX_HOSTNAME) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${name#KAFKA_}"
  key="${key,,}"
  key="${key//_/.}"
  key="${key//.../-}"
  key="${key//../_}"
  printf '%s=%s\n' "$key" "${!name}" >> "$format_config"
done

# --ignore-formatted: on a volume formatted before, nothing changes (the admin is already there).
"$kafka_home/bin/kafka-storage.sh" format \
  --cluster-id "$CLUSTER_ID" \
  --config "$format_config" \
  --ignore-formatted \
  --add-scram "${mechanism}=[name=${admin},password=${COOP_KAFKA_ADMIN_PASSWORD}]"
rm -f "$format_config"
trap - EXIT

unset COOP_KAFKA_ADMIN_PASSWORD
exec "$run" "$@"
