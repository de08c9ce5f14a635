#!/usr/bin/env bash
# Usage: bench_citus.sh PORT SECONDS ROUNDS   (after bench_citus_setup.sql; ids from ../ids.sh)
# Interleaved pgbench rounds, -c 4 -j 2 -M prepared, SME organization (1 guideline row).
set -euo pipefail
P=$1; T=${2:-5}; R=${3:-5}
D=$(cd "$(dirname "$0")" && pwd)
export PORT=$P; . "$D/../ids.sh"
declare -A all
for r in $(seq 1 "$R"); do
  for s in bare single tx deleg deleg_tx; do
    u=enclave_app; [ "$s" = bare ] && u=postgres
    tps=$(pgbench -n -h 127.0.0.1 -p "$P" -U $u -c 4 -j 2 -T "$T" -M prepared -D org="$SME" -D usr="$NORA" -D proof="$P_NORA" \
          -f "$D/bench_citus_$s.sql" enclave 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $r $s tps $tps"; all[$s]+="$tps "
  done
done
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for s in bare single tx deleg deleg_tx; do echo "median $s $(echo "${all[$s]}" | med)   [${all[$s]}]"; done
