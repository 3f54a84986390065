#!/bin/sh
# Entrypoint of the fruits image: `docker run fruits <command> …` runs `fruits <command> …`.
# On ECS the Redis endpoint arrives as REDIS_HOST/REDIS_PORT and the AUTH token as the secret
# REDIS_PASSWORD; they are joined into FRUITS_REDIS_URL here, so the token never appears in a
# task definition or on a command line. An explicit FRUITS_REDIS_URL wins.
set -eu

cli="${FRUITS_CLI:-/app/dist/bundle/main.js}"

if [ -z "${FRUITS_REDIS_URL:-}" ] && [ -n "${REDIS_HOST:-}" ]; then
  scheme=rediss
  if [ "${REDIS_TLS:-true}" = "false" ]; then scheme=redis; fi
  auth=
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    # Percent-encode: a token with ':' '@' '/' or '%' must not break the URL.
    auth=":$(node -e 'process.stdout.write(encodeURIComponent(process.env.REDIS_PASSWORD))')@"
  fi
  FRUITS_REDIS_URL="${scheme}://${auth}${REDIS_HOST}:${REDIS_PORT:-6379}"
  export FRUITS_REDIS_URL
fi
unset REDIS_PASSWORD

exec node "$cli" "$@"
