#!/usr/bin/env bash
# by-hand decomposition of the single-statement tenant read on Citus (kept cluster, port $1)
set -u
P=$1; cd /work/main; source scripts/lib.sh; set +e
S="psql -X -q -h 127.0.0.1 -p $P -U postgres -d enclave"
ORG=$($S -At -c "SELECT id FROM organizations WHERE slug = 'northwind-coffee'")
U=$($S -At -c "SELECT u.id FROM users u WHERE u.email = 'nora@northwind.example'")
PROOF=$($S -At -c "SELECT $(proof_sql "'user/$U'") FROM enclave.context_proof_keys k")
$S -f docs/citus/bench/read-path-floor-setup.sql >/dev/null 2>&1
SH=$($S -At -c "SELECT 'enclave.context_proof_keys_' || shardid FROM pg_dist_shard WHERE logicalrelid = 'enclave.context_proof_keys'::regclass")
$S -c "SET citus.propagate_set_commands='local'" -c "CREATE OR REPLACE FUNCTION enclave.proof_holds(p_message text, p_proof text) RETURNS boolean LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS \$f\$ DECLARE v_key_id text := split_part(coalesce(p_proof, ''), '/', 1); v_mac text := split_part(coalesce(p_proof, ''), '/', 2); BEGIN RETURN coalesce((SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(p_message, 'UTF8'))), 'hex') = v_mac FROM $SH k WHERE k.key_id = v_key_id), false); END \$f\$"
D=$(mktemp -d)
echo "SELECT * FROM public.brand_guidelines WHERE org_id = '$ORG';" > $D/bare.sql
echo "SELECT * FROM enclave.floor_noop('$ORG');" > $D/noop.sql
echo "SELECT * FROM enclave.floor_rows('$ORG');" > $D/rows.sql
echo "SELECT * FROM enclave.floor_rows_coord('$ORG');" > $D/rows_coord.sql
echo "SELECT * FROM enclave.read_brand_guidelines('$ORG', NULL, '$U', '$PROOF');" > $D/door.sql
echo "SELECT * FROM enclave.floor_door('$ORG', NULL, '$U', '$PROOF');" > $D/door_deleg.sql
for v in door door_deleg; do echo "$v rows: $(psql -X -At -h 127.0.0.1 -p $P -U enclave_app -d enclave -f $D/$v.sql 2>&1 | wc -l)"; done
psql -X -h 127.0.0.1 -p $P -U enclave_app -d enclave -c "EXPLAIN $(sed 's/;$//' $D/door_deleg.sql)" | head -3
declare -A all
for r in 1 2 3; do
  line="round $r:"
  for v in bare noop rows rows_coord door door_deleg; do
    u=enclave_app; case $v in bare|noop|rows|rows_coord) u=postgres;; esac
    t=$(pgbench -n -M prepared -c 8 -j 2 -T 6 -h 127.0.0.1 -p $P -U $u -d enclave -f $D/$v.sql 2>&1 | awk '/^tps/{print int($3)}')
    all[$v]="${all[$v]:-} $t"; line="$line $v $t"
  done
  echo "$line"
done
for v in bare noop rows rows_coord door door_deleg; do
  m=$(echo ${all[$v]} | tr ' ' '\n' | sort -n | sed -n 2p); echo "median $v $m"
done
