#!/usr/bin/env bash
# Starts the machine's PostgreSQL 15 cluster (if it is not running) and makes sure the role and
# databases the tests and load tests use exist. Prints the DATABASE_URL to use on its last line.
# Idempotent: safe to run again. Used by .ci/run, `npm test` setup and `npm run loadtest`.
set -euo pipefail

PG_USER="${CHITTYID_PG_USER:-chittyid}"
PG_PASSWORD="${CHITTYID_PG_PASSWORD:-chittyid-local-dev}"
PG_PORT="${CHITTYID_PG_PORT:-5432}"

if ! command -v pg_ctlcluster >/dev/null; then
  echo "pg-start: PostgreSQL 15 is not installed (apt-get install postgresql-15)" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk '$1 == "15" && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster 15 main start
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.2
done

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -p $PG_PORT $*"; }
psql_admin "-c \"DO \\\$\\\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD' CREATEDB;
  END IF;
END \\\$\\\$;\"" >/dev/null
for db in chittyid chittyid_test; do
  if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$db'\"")" != "1" ]; then
    psql_admin "-c \"CREATE DATABASE $db OWNER $PG_USER\"" >/dev/null
  fi
done
echo "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/chittyid"
