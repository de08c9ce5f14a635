#!/usr/bin/env bash
# scripts/bench-citus's Citus half, for two recipes side by side in one run: two throwaway
# clusters up at the same time (coordinator PORT_A / PORT_B, workers +1, +2), each migrated,
# loaded with the same fixture (bench-citus's: TENANTS organizations, one owner each, ROWS
# rows each in public.bench_items), then distributed by its recipe with psql -f as postgres
# instead of the second `enclave migrate`:
#   A = base.sql        (migrations/citus/distribute.sql as committed: memberships,
#                        client_workspaces, client_assignments distributed by org_id)
#   B = distribute.sql  (the directory variant: those three are reference tables)
# Then the same pgbench scripts as bench-citus (8 clients, -j 2, prepared, SECS seconds),
# rounds interleaved A, B, A, B… and medians:
#   bare       SELECT * FROM public.bench_items WHERE org_id = $1   (postgres, no RLS)
#   bare_tx    the same inside BEGIN … COMMIT
#   tenant_tx  BEGIN; enclave.read_bench_items(org, NULL, user, proof); COMMIT (enclave_app)
#   page       BEGIN; enclave.page_context(user, org, NULL, proof); 25 rows; COMMIT
# Usage: bench.sh [SECS=6] [ROUNDS=3]; ENCLAVE_BENCH_TENANTS (2000), ENCLAVE_BENCH_ROWS (50),
# RECIPE_A, RECIPE_B (other recipe files), CLIENTS (8), PORT_A (59432), PORT_B (59435), VARIANTS ("bare bare_tx tenant_tx page"; also dir_write:
# UPDATE of one membership row as the superuser). ENCLAVE_BIN must be set (no cargo).
source /work/main/scripts/lib.sh
HERE=$(cd "$(dirname "$0")" && pwd)
SECS=${1:-6}
ROUNDS=${2:-3}
TENANTS=${ENCLAVE_BENCH_TENANTS:-2000}
ROWS=${ENCLAVE_BENCH_ROWS:-50}
PORT_A=${PORT_A:-59432}
PORT_B=${PORT_B:-59435}
VARIANTS=${VARIANTS:-bare bare_tx tenant_tx page}
citus_prepare
PGBIN=$(pg_bindir)
WORK=$(mktemp -d /var/tmp/enclave-dir-bench.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  [ "${CITUS_KEEP:-}" = 1 ] && { say "clusters kept in $WORK/a ($PORT_A) and $WORK/b ($PORT_B)"; return; }
  P=$PORT_A citus_cluster_stop "$WORK/a"
  P=$PORT_B citus_cluster_stop "$WORK/b"
  rm -rf "$WORK"
}
trap cleanup EXIT

# The fixture, in the schema as migrated (before Citus distributes anything): the table
# and its read function as a migration would write them, the rows as the superuser.
fixture() {
  cat <<SQL
SET ROLE enclave_owner;
CREATE TABLE public.bench_items (org_id uuid NOT NULL REFERENCES public.organizations (id), id int NOT NULL,
  org_kind text NOT NULL DEFAULT 'sme' CHECK (org_kind = 'sme'),
  title text NOT NULL, body text NOT NULL, PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind));
ALTER TABLE public.bench_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.bench_items FORCE ROW LEVEL SECURITY;
CREATE POLICY bench_items_org ON public.bench_items
  USING (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme');
GRANT SELECT ON public.bench_items TO enclave_runtime;
-- org_id = p_org: on Citus a read is routed to one shard only with the key in the query.
CREATE FUNCTION enclave.read_bench_items(p_org uuid, p_workspace uuid, p_user uuid, p_proof text)
  RETURNS SETOF public.bench_items LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$\$
  BEGIN
    PERFORM enclave.enter_context(p_org, p_workspace, p_user, p_proof);
    RETURN QUERY SELECT * FROM public.bench_items b WHERE b.org_id = p_org;
  END \$\$;
GRANT EXECUTE ON FUNCTION enclave.read_bench_items(uuid, uuid, uuid, text) TO enclave_runtime;
RESET ROLE;
INSERT INTO public.organizations (id, kind, name, slug)
  SELECT md5(n::text)::uuid, 'sme', 'Org ' || n, 'org-' || n FROM generate_series(1, $TENANTS) n;
INSERT INTO public.users (id, email, display_name)
  SELECT md5('u' || n)::uuid, 'u' || n || '@bench.example', 'User ' || n FROM generate_series(1, $TENANTS) n;
INSERT INTO public.memberships (org_id, user_id, role)
  SELECT md5(n::text)::uuid, md5('u' || n)::uuid, 'owner' FROM generate_series(1, $TENANTS) n;
INSERT INTO public.bench_items (org_id, id, title, body)
  SELECT md5(n::text)::uuid, i, 'Item ' || i, repeat('x', 40) FROM generate_series(1, $TENANTS) n, generate_series(1, $ROWS) i;
SQL
}
# Each user's context proof as the server computes it (pgbench cannot), kept outside the
# tenant schemas (a plain table on the coordinator) and looked up in the measured statements.
proofs() {
  cat <<SQL
CREATE SCHEMA bench;
CREATE TABLE bench.proofs (n int PRIMARY KEY, proof text NOT NULL);
INSERT INTO bench.proofs
SELECT n, k.key_id || '/' || encode(sha256(k.outer_pad || sha256(k.inner_pad
         || convert_to('user/' || md5('u' || n)::uuid::text, 'UTF8'))), 'hex')
  FROM generate_series(1, $TENANTS) n, enclave.context_proof_keys k;
GRANT USAGE ON SCHEMA bench TO enclave_runtime;
GRANT SELECT ON bench.proofs TO enclave_runtime;
VACUUM ANALYZE;
SQL
}


# setup NAME PORT RECIPE: a cluster with the fixture, distributed by RECIPE.
setup() {
  local name=$1 port=$2 recipe=$3 t
  mkdir -p "$WORK/$name"; chmod 755 "$WORK/$name"
  # A port of a cluster stopped a moment ago can still be taken (TIME-WAIT): wait it out.
  for _ in $(seq 60); do
    ss -tan | grep -qE "127\.0\.0\.1:($port|$((port + 1))|$((port + 2))) " || break; sleep 2
  done
  CITUS_PORT=$port citus_cluster_start "$WORK/$name"
  citus_migrate "$WORK/$name"
  citus_add "$WORK/$name"
  say "$name: loading $TENANTS tenants × $ROWS rows"
  fixture | su_psql >/dev/null
  t=$SECONDS
  su_psql -f "$recipe" >"$WORK/$name/distribute.log" 2>&1 || { cat "$WORK/$name/distribute.log" >&2; die "$name: $recipe failed"; }
  say "$name: distributed by $(basename "$recipe") in $((SECONDS - t)) s"
  proofs | su_psql >/dev/null
}
RECIPE_A=${RECIPE_A:-$HERE/base.sql}
RECIPE_B=${RECIPE_B:-$HERE/distribute.sql}
setup a "$PORT_A" "$RECIPE_A"
setup b "$PORT_B" "$RECIPE_B"

cat > "$WORK/bare.sql" <<'SQL'
\set n random(1, :tenants)
SELECT * FROM public.bench_items WHERE org_id = md5(:n::text)::uuid;
SQL
cat > "$WORK/bare_tx.sql" <<'SQL'
\set n random(1, :tenants)
BEGIN;
SELECT * FROM public.bench_items WHERE org_id = md5(:n::text)::uuid;
COMMIT;
SQL
cat > "$WORK/tenant.sql" <<'SQL'
\set n random(1, :tenants)
SELECT * FROM enclave.read_bench_items(md5(:n::text)::uuid, NULL, md5('u' || :n)::uuid,
                                       (SELECT proof FROM bench.proofs WHERE n = :n));
SQL
cat > "$WORK/tenant_tx.sql" <<'SQL'
\set n random(1, :tenants)
BEGIN;
SELECT * FROM enclave.read_bench_items(md5(:n::text)::uuid, NULL, md5('u' || :n)::uuid,
                                       (SELECT proof FROM bench.proofs WHERE n = :n));
COMMIT;
SQL
cat > "$WORK/page.sql" <<'SQL'
\set n random(1, :tenants)
BEGIN;
SELECT * FROM enclave.page_context(md5('u' || :n)::uuid, md5(:n::text)::uuid, NULL,
                                   (SELECT proof FROM bench.proofs WHERE n = :n));
SELECT id, title FROM public.bench_items WHERE org_id = md5(:n::text)::uuid ORDER BY id LIMIT 25;
COMMIT;
SQL


# A directory write, as the superuser (no RLS): one membership row of a random tenant.
# (VARIANTS="dir_write …"; not in the default set.)
cat > "$WORK/dir_write.sql" <<'SQL'
\set n random(1, :tenants)
UPDATE public.memberships SET role = 'owner' WHERE org_id = md5(:n::text)::uuid AND user_id = md5('u' || :n)::uuid;
SQL

# on PORT ROLE SCRIPT -> tps (dies when a client aborted)
on() {
  local port=$1 role=$2 script=$3 tps
  [ "$role" = admin ] && role=postgres
  tps=$("$PGBIN/pgbench" -n -M prepared -c "${CLIENTS:-8}" -j 2 -T "$SECS" -D tenants="$TENANTS" -h 127.0.0.1 -p "$port" -d enclave -U "$role" -f "$WORK/$script.sql" 2>"$WORK/pgbench.err" \
    | awk '/^tps/ {print int($3)}')
  if [ -z "$tps" ] || grep -q "aborted" "$WORK/pgbench.err"; then
    die "pgbench $script on $port as $role failed: $(tail -3 "$WORK/pgbench.err")"
  fi
  echo "$tps"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
port_of() { [ "$1" = a ] && echo "$PORT_A" || echo "$PORT_B"; }

# What each path returns, before timing it.
for c in a b; do
  q=(psql -X -At -h 127.0.0.1 -p "$(port_of $c)" -d enclave -U enclave_app)
  rows=$("${q[@]}" -c "BEGIN" -c "SELECT count(*) FROM enclave.read_bench_items(md5('1')::uuid, NULL, md5('u1')::uuid, (SELECT proof FROM bench.proofs WHERE n = 1))" -c "COMMIT" 2>&1 | grep -v '^BEGIN\|^COMMIT')
  [ "$rows" = "$ROWS" ] || die "$c: the tenant read in a transaction returned '$rows', expected $ROWS rows"
  page=$("${q[@]}" -c "BEGIN" -c "SELECT role || '/' || jsonb_array_length(organizations) FROM enclave.page_context(md5('u1')::uuid, md5('1')::uuid, NULL, (SELECT proof FROM bench.proofs WHERE n = 1))" -c "COMMIT" 2>&1 | grep -v '^BEGIN\|^COMMIT')
  [ "$page" = "owner/1" ] || die "$c: page_context returned '$page', expected owner/1"
  # The remote commands of one page transaction (citus.log_remote_commands).
  n=$("${q[@]}" -c "BEGIN" -c "SET LOCAL citus.log_remote_commands = on" -c "SET LOCAL client_min_messages = notice" \
      -c "SELECT 1 FROM enclave.page_context(md5('u1')::uuid, md5('1')::uuid, NULL, (SELECT proof FROM bench.proofs WHERE n = 1))" \
      -c "SELECT id, title FROM public.bench_items WHERE org_id = md5('1')::uuid ORDER BY id LIMIT 25" -c "COMMIT" 2>&1 | grep -c 'NOTICE:  issuing' || true)
  say "$c: page transaction checked (owner, 1 organization); $n commands sent to workers from the coordinator"
done

say "pgbench: $ROUNDS interleaved rounds of ${SECS}s per variant and recipe, 8 clients"
declare -A all
for r in $(seq "$ROUNDS"); do
  line="  round $r:"
  for c in a b; do
    for v in $VARIANTS; do
      role=enclave_app; [ "${v%%_*}" = bare ] || [ "$v" = dir_write ] && role=admin
      t=$(on "$(port_of $c)" $role $v); all[$c.$v]="${all[$c.$v]:-} $t"; line="$line $c/$v $t"
    done
  done
  echo "$line"
done
printf 'medians (tps) and ratios, %d tenants × %d rows:\n' "$TENANTS" "$ROWS"
if [ "$VARIANTS" != "bare bare_tx tenant_tx page" ]; then
  for c in a b; do
    line="$([ $c = a ] && echo "A $(basename "$RECIPE_A")" || echo "B $(basename "$RECIPE_B")"):"
    for v in $VARIANTS; do line="$line $v $(echo "${all[$c.$v]}" | median)"; done
    echo "$line"
  done
  exit 0
fi
for c in a b; do
  b=$(echo "${all[$c.bare]}" | median); bt=$(echo "${all[$c.bare_tx]}" | median)
  tt=$(echo "${all[$c.tenant_tx]}" | median); pg=$(echo "${all[$c.page]}" | median)
  name=$([ $c = a ] && echo "A $(basename "$RECIPE_A")" || echo "B $(basename "$RECIPE_B")")
  printf '%-26s bare %6d | bare in a transaction %6d | tenant read in a transaction %6d (%s of bare, %s of bare in a transaction) | page transaction %6d (%s of bare)\n' \
    "$name" "$b" "$bt" "$tt" "$(ratio "$tt" "$b")" "$(ratio "$tt" "$bt")" "$pg" "$(ratio "$pg" "$b")"
done
