#!/usr/bin/env bash
# Usage: bench_exception.sh HOST_OR_SOCKETDIR PORT [SECONDS] [ROUNDS]
# On a throwaway single-node PostgreSQL 15: interleaved pgbench rounds of the four scripts,
# then 5 loop rounds per function. Prints one line per measurement and the medians.
set -euo pipefail
H=$1; P=$2; T=${3:-5}; R=${4:-5}
D=$(cd "$(dirname "$0")" && pwd)
q() { psql -X -q -h "$H" -p "$P" -U postgres -d postgres "$@"; }
q -v ON_ERROR_STOP=1 -f "$D/bench_exception_setup.sql" >/dev/null
declare -A all
for r in $(seq 1 "$R"); do
  for s in plain exc read_plain read_exc; do
    tps=$(pgbench -n -h "$H" -p "$P" -U postgres -c 2 -j 2 -T "$T" -M prepared -f "$D/bench_$s.sql" postgres 2>&1 \
          | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $r $s tps $tps"
    all[$s]+="$tps "
  done
done
for r in $(seq 1 "$R"); do
  for s in plain exc; do
    us=$(q -At -c "SELECT loop_us('$s', 100000)")
    echo "loop round $r $s us_per_call $us"
    all[loop_$s]+="$us "
  done
done
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for s in plain exc read_plain read_exc loop_plain loop_exc; do
  echo "median $s $(echo "${all[$s]}" | med)   [${all[$s]}]"
done
