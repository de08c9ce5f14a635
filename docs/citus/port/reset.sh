#!/usr/bin/env bash
# Drops `enclave` on every node, re-runs `enclave migrate` (binary) and add_citus.sh.
set -euo pipefail
P=${1:-55432}
for p in $P $((P+1)) $((P+2)); do psql -X -q -h 127.0.0.1 -p $p -U postgres -d postgres -c "DROP DATABASE IF EXISTS enclave WITH (FORCE)" 2>&1 | grep -v NOTICE || true; done
cd /tmp && env DATABASE_ADMIN_URL="postgres://postgres@127.0.0.1:$P/postgres?sslmode=disable" \
  DATABASE_OWNER_URL="postgres://enclave_owner@127.0.0.1:$P/enclave?sslmode=disable" \
  DATABASE_URL="postgres://enclave_app@127.0.0.1:$P/enclave?sslmode=disable" ENCLAVE_ENV=development \
  /work/main/target/debug/enclave migrate
/work/citus-notes/add_citus.sh $P >/dev/null 2>&1
