#!/usr/bin/env bash
# Usage: bench_citus_block.sh PORT SECONDS ROUNDS
# The EXCEPTION block's cost on the cluster, in the transaction form that works either way:
# each round installs seal_context with the block (p1_seal_block.sql: "B") and without it
# (original_seal_context.sql: "orig") and runs BEGIN; w_read_bg_coord; COMMIT and
# BEGIN; page_context; COMMIT (page_context seals twice: the second seal's block runs with
# worker connections open, so Citus sends SAVEPOINT / RELEASE on them).
set -euo pipefail
P=$1; T=${2:-5}; R=${3:-5}
D=$(cd "$(dirname "$0")" && pwd)
export PORT=$P; . "$D/../ids.sh"
su() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P" -U postgres -d enclave "$@"; }
declare -A all
for r in $(seq 1 "$R"); do
  for v in B orig; do
    if [ $v = B ]; then su -f "$D/p1_seal_block.sql" >/dev/null; su -f "$D/p2_delegation_setup.sql" >/dev/null
    else su -f "$D/original_seal_context.sql" >/dev/null; fi
    for s in tx page_tx; do
      tps=$(pgbench -n -h 127.0.0.1 -p "$P" -U enclave_app -c 4 -j 2 -T "$T" -M prepared -D org="$SME" -D usr="$NORA" -D proof="$P_NORA" \
            -f "$D/bench_citus_$s.sql" enclave 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
      echo "round $r $s $v tps $tps"; all[${s}_$v]+="$tps "
    done
  done
done
su -f "$D/p1_seal_block.sql" >/dev/null; su -f "$D/p2_delegation_setup.sql" >/dev/null
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for k in tx_B tx_orig page_tx_B page_tx_orig; do echo "median $k $(echo "${all[$k]}" | med)   [${all[$k]}]"; done
