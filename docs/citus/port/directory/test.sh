#!/usr/bin/env bash
# The assertions of scripts/test-citus (a)-(d) against a distribution recipe, on a
# throwaway cluster, with the test files as committed in 5ae4be2 (tests_base/: the
# single-statement doors still fail closed there). Usage: test.sh RECIPE PORT
#   RECIPE: the recipe file, run with psql -f as postgres instead of the second
#           `enclave migrate` (base.sql = the committed migrations/citus/distribute.sql;
#           distribute.sql = the directory variant); check (b) re-runs it
#   PORT:   the coordinator's port (workers PORT+1, PORT+2)
# ENCLAVE_BIN must be set (no cargo). CITUS_KEEP=1 leaves the cluster up.
# EXTRA_CHECKS=../tests/directory_writes.sql adds the directory writes (x) at the end; TESTS_DIR=dir uses other
# test files (e.g. a later commit's docs/citus/port/tests).
source /work/main/scripts/lib.sh
RECIPE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); export CITUS_PORT=$2
TESTS=${TESTS_DIR:-$(cd "$(dirname "$0")" && pwd)/tests_base}
citus_prepare
WORK=$(mktemp -d /var/tmp/enclave-dir-test.XXXXXX); chmod 755 "$WORK"
cleanup() { [ "${CITUS_KEEP:-}" = 1 ] && { say "cluster kept in $WORK (port $P)"; return; }; citus_cluster_stop "$WORK"; }
trap cleanup EXIT
citus_cluster_start "$WORK"
citus_migrate "$WORK"
citus_add "$WORK"
distribute() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P" -U postgres -d enclave -f "$RECIPE"; }
t=$SECONDS; distribute >"$WORK/distribute.log" 2>&1 || { cat "$WORK/distribute.log"; die "distribution failed"; }
say "distributed ($RECIPE) in $((SECONDS - t)) s"
(cd "$WORK" && "$BIN" seed-demo) >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log" >&2; die "enclave seed-demo failed"; }
export PORT=$P
. "$TESTS/ids.sh"
FAILED=()
run_check() {
  local name=$1; shift
  local log="$WORK/check-$name.log"
  if "$@" >"$log" 2>&1; then
    sed -n 's/.*NOTICE:  \(ok (.*\)$/  \1/p' "$log" | cut -c1-300; printf 'PASS %s\n' "$name"
  else
    sed -n 's/.*NOTICE:  \(ok (.*\)$/  \1/p' "$log" | cut -c1-220
    printf 'FAIL %s: %s\n' "$name" "$(grep -m1 -E 'FAIL|ERROR' "$log" | sed 's/^psql:[^ ]* //')"
    sed 's/^/    | /' "$log" | tail -25; FAILED+=("$name")
  fi
}
check_b() {
  local before after
  snapshot() {
    for p in "$P" $((P + 1)) $((P + 2)); do
      echo "== node $p"
      psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$p" -U postgres -d enclave \
        $([ "$p" = "$P" ] && echo "-v coordinator=1") -f "$TESTS/state.sql"
    done
  }
  before=$(snapshot)
  distribute >"$WORK/distribute-rerun.log" 2>&1 || { cat "$WORK/distribute-rerun.log"; echo "FAIL (b): the recipe, run again, failed"; return 1; }
  after=$(snapshot)
  if [ "$before" != "$after" ]; then diff <(echo "$before") <(echo "$after") || true; echo "FAIL (b): run again, it changed the state above"; return 1; fi
  echo "NOTICE:  ok (b) the recipe again: identical on 3 nodes ($(grep -c '^' <<<"$before") fingerprint lines)"
}
echo
run_check "(a) policies" su_psql -f "$TESTS/policies.sql"
run_check "(b) recipe again changes nothing" check_b
# shellcheck disable=SC2086
run_check "(c) limits and write tenancy" su_psql $VARS -f "$TESTS/limits.sql"
# shellcheck disable=SC2086
run_check "(d) isolation" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P" -U enclave_app -d enclave $VARS -f "$TESTS/iso_assert.sql"
if [ -n "${EXTRA_CHECKS:-}" ]; then
  SAM=$(uid sam@northwind.example); BEN=$(uid ben@brightside.example)
  # shellcheck disable=SC2086
  writes() {   # runs on after an error; fails if any statement failed
    su_psql $VARS -v sam="$SAM" -v ben="$BEN" -f "$EXTRA_CHECKS" 2>&1 | tee "$WORK/writes.out"
    grep -E 'ERROR:' "$WORK/writes.out" | sed 's/^psql:[^ ]* /  ERROR at /' | sed 's/^/NOTICE:  ok (x) [error] /'
    ! grep -q 'ERROR:' "$WORK/writes.out"
  }
  run_check "(x) directory writes" writes
fi
echo
[ ${#FAILED[@]} -gt 0 ] && { echo "test.sh $RECIPE: ${#FAILED[@]} failed: ${FAILED[*]}"; exit 1; }
echo "test.sh $RECIPE: all checks passed"
