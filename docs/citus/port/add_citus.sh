#!/usr/bin/env bash
# After `enclave migrate` on the coordinator: the `enclave` database with Citus on every node,
# workers registered in it. Idempotent. Usage: add_citus.sh [PORT]
set -euo pipefail
P=${1:-55432}; W1=$((P+1)); W2=$((P+2))
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres "$@"; }
for p in $W1 $W2; do   # CREATE DATABASE is not propagated (citus.enable_create_database_propagation = off)
  q -p $p -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='enclave'" | grep -q 1 \
    || q -p $p -d postgres -c "CREATE DATABASE enclave OWNER enclave_owner"
  q -p $p -d postgres -c "REVOKE ALL ON DATABASE enclave FROM PUBLIC" -c "GRANT CONNECT ON DATABASE enclave TO enclave_runtime"
done
for p in $P $W1 $W2; do q -p $p -d enclave -c "CREATE EXTENSION IF NOT EXISTS citus"; done
q -p $P -d enclave -c "SELECT citus_set_coordinator_host('127.0.0.1', $P)" \
  -c "SELECT citus_add_node('127.0.0.1', $W1)" -c "SELECT citus_add_node('127.0.0.1', $W2)" \
  -c "SELECT nodeid, nodename, nodeport, groupid, hasmetadata, shouldhaveshards FROM pg_dist_node ORDER BY nodeid"
