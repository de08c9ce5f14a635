#!/usr/bin/env bash
# Reproduces `enclave migrate` (server/src/ops/migrate.rs) with psql against a Citus cluster
# started by cluster.sh (coordinator PORT, workers PORT+1, PORT+2), then adds Citus to the
# `enclave` database on every node. Usage: bootstrap.sh [PORT]
set -euo pipefail
P=${1:-55432}; W1=$((P+1)); W2=$((P+2))
MIG=/work/main/migrations
UW=$(ls -d ~/.cargo/registry/src/*/underway-0.2.0/migrations | head -1)
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 "$@"; }

# 1. bootstrap (admin URL = postgres@postgres on the coordinator; citus is in that db and the
#    workers are registered there, so CREATE/ALTER ROLE and GRANT propagate to the workers)
q -p $P -U postgres -d postgres <<'SQL'
SELECT pg_advisory_lock(7235001);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='enclave_owner') THEN
    CREATE ROLE enclave_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='enclave_app') THEN
    CREATE ROLE enclave_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='enclave_runtime') THEN
    CREATE ROLE enclave_runtime NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; END IF;
END $$;
GRANT enclave_runtime TO enclave_app;
SELECT pg_advisory_unlock(7235001);
SQL
# CREATE DATABASE is not propagated by Citus 13 by default: make it on every node.
for p in $P $W1 $W2; do
  q -p $p -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname='enclave'" | grep -q 1 \
    || q -p $p -U postgres -d postgres -c "CREATE DATABASE enclave OWNER enclave_owner"
  q -p $p -U postgres -d postgres -c "REVOKE ALL ON DATABASE enclave FROM PUBLIC" \
     -c "GRANT CONNECT ON DATABASE enclave TO enclave_runtime"
  q -p $p -U postgres -d enclave -c "ALTER SCHEMA public OWNER TO enclave_owner"
done

# 2. underway's migrations then ours, as the owner, each in its own transaction (as sqlx does),
#    with sqlx's bookkeeping rows so a later `enclave migrate` sees them applied.
BOOK="CREATE TABLE IF NOT EXISTS _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL,
 installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, checksum bytea NOT NULL,
 execution_time bigint NOT NULL)"
q -p $P -U enclave_owner -d enclave -c "CREATE SCHEMA IF NOT EXISTS enclave" \
  -c "CREATE SCHEMA IF NOT EXISTS underway" -c "SET search_path = underway" -c "$BOOK" \
  -c "SET search_path = enclave" -c "$BOOK"
run() { # schema dir file
  local f=$3 base v d sum; base=$(basename "$f" .sql); v=${base%%_*}; d=${base#*_}; d=${d//_/ }
  v=$((10#$v))
  if q -p $P -U enclave_owner -d enclave -tAc "SELECT 1 FROM $1._sqlx_migrations WHERE version=$v" | grep -q 1; then return; fi
  sum=$(sha384sum "$f" | cut -d' ' -f1)
  { echo "BEGIN; SET search_path = $1;"; cat "$f"; echo;
    echo "INSERT INTO $1._sqlx_migrations VALUES ($v, '$d', now(), true, '\\x$sum', 0); COMMIT;"; } \
    | q -p $P -U enclave_owner -d enclave -f - >/dev/null
  echo "applied $1 $base"
}
for f in "$UW"/*.sql; do run underway "$UW" "$f"; done
for f in "$MIG"/*.sql; do run enclave "$MIG" "$f"; done
q -p $P -U enclave_owner -d enclave -c "INSERT INTO enclave.instance (environment, instance_id) VALUES ('development', gen_random_uuid()) ON CONFLICT DO NOTHING"
