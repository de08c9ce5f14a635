#!/usr/bin/env bash
# Concurrency around directory writes, on a cluster left up by `CITUS_KEEP=1 test.sh RECIPE PORT`
# (seed-demo data, before writes.sql). Usage: conc.sh PORT
#   k1 lock span: nora (SME) changes sam's role and holds her transaction 3 s; meanwhile
#      (another tenant) ada changes cleo's role in the agency, and the superuser updates an
#      agency user's row: how long each waits.
#   k2 seat race: the SME has one free seat (override), ada and cleo each hold an
#      invitation and accept at the same moment, each holding the transaction 2 s: exactly one
#      may join.
set -euo pipefail
export PORT=$1
. "$(dirname "$0")/tests_base/ids.sh"
A="psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PORT -d enclave"
SAM=$($Q -c "select id from users where email = 'sam@northwind.example'")
ms() { date +%s%3N; }

echo "--- k1 lock span"
hold() {   # nora (SME) changes sam's role and keeps the transaction open 3 s
  $A -U enclave_app -v sme=$SME -v nora=$NORA -v p_nora=$P_NORA -v sam=$SAM <<'SQL' >/dev/null &
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT enclave.change_member_role(:'sam', 'admin') \g /dev/null
SELECT pg_sleep(3);
ROLLBACK;
SQL
  sleep 0.7
}
hold; t=$(ms)
$A -U enclave_app -v ag=$AG -v ada=$ADA -v p_ada=$P_ADA -v cleo=$CLEO <<'SQL' >/dev/null 2>&1 || echo "  (agency role change failed)"
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
SELECT enclave.change_member_role(:'cleo', 'admin') \g /dev/null
ROLLBACK;
SQL
echo "  k1 another tenant's role change (agency) took $(( $(ms) - t )) ms while the SME's was open"
wait
hold; t=$(ms)
$A -U postgres -c "BEGIN" -c "UPDATE public.users SET display_name = display_name WHERE email = 'ben@brightside.example'" -c "ROLLBACK" >/dev/null
echo "  k1 an UPDATE of another tenant's users row took $(( $(ms) - t )) ms while the SME's was open"
wait
hold; t=$(ms)
$A -U postgres -c "BEGIN" -c "INSERT INTO public.users (email, display_name) VALUES ('k1@example.com', 'K1')" -c "ROLLBACK" >/dev/null
echo "  k1 an INSERT into users (a sign-up) took $(( $(ms) - t )) ms while the SME's was open"
wait
hold; t=$(ms)
$A -U postgres -c "BEGIN" -c "UPDATE public.organizations SET name = name WHERE slug = 'brightside-agency'" -c "ROLLBACK" >/dev/null
echo "  k1 an UPDATE of another tenant's organizations row took $(( $(ms) - t )) ms while the SME's was open"
wait
hold; t=$(ms)
$A -U postgres -c "BEGIN" -c "UPDATE agency.personas SET name = name WHERE org_id = '$AG'" -c "ROLLBACK" >/dev/null
echo "  k1 an UPDATE of another tenant's agency.personas rows took $(( $(ms) - t )) ms while the SME's was open"
wait

echo "--- k2 seat race"
$Q -q -c "DELETE FROM enclave.entitlement_overrides WHERE reason = 'k2'" \
   -c "INSERT INTO enclave.entitlement_overrides (org_id, feature, value, reason, granted_by)
       SELECT '$SME', 'seats', count(*) + 1, 'k2', '$NORA' FROM public.memberships WHERE org_id = '$SME'"
$A -U enclave_app -v sme=$SME -v nora=$NORA -v p_nora=$P_NORA <<'SQL'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT enclave.invite_member('00000000-0000-4000-8000-00000000000a', 'ada@brightside.example', 'member', sha256('k2a'), true, interval '1 day', 'k2', '\x00'::bytea) \g /dev/null
COMMIT;
SQL
$Q -q -c "UPDATE enclave.entitlement_overrides SET value = value + 1 WHERE reason = 'k2'"
$A -U enclave_app -v sme=$SME -v nora=$NORA -v p_nora=$P_NORA <<'SQL'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT enclave.invite_member('00000000-0000-4000-8000-00000000000b', 'cleo@brightside.example', 'member', sha256('k2b'), true, interval '1 day', 'k2', '\x00'::bytea) \g /dev/null
COMMIT;
SQL
$Q -q -c "UPDATE enclave.entitlement_overrides SET value = value - 1 WHERE reason = 'k2'"   # one free seat again
accept() {   # accept USER PROOF INVITATION TOKEN
  local t0; t0=$(ms)
  if out=$($A -U enclave_app -v sme=$SME -v u=$1 -v p=$2 -v inv=$3 -v tok=$4 2>&1 <<'SQL'
BEGIN;
SELECT enclave.enter_user(:'u', :'p') \g /dev/null
SELECT enclave.accept_invitation(:'sme', :'inv', sha256(:'tok')) \g /dev/null
SELECT pg_sleep(2) \g /dev/null
COMMIT;
SQL
  ); then echo "  k2 $5 joined ($(( $(ms) - t0 )) ms)"; else echo "  k2 $5 refused after $(( $(ms) - t0 )) ms: $(grep -m1 ERROR <<<"$out" | cut -c1-160)"; fi
}
accept $ADA $P_ADA 00000000-0000-4000-8000-00000000000a k2a ada &
accept $CLEO $P_CLEO 00000000-0000-4000-8000-00000000000b k2b cleo &
wait
echo "  k2 SME members now: $($Q -c "select count(*) from public.memberships where org_id = '$SME'") (seats: $($Q -c "select value from enclave.entitlement_overrides where reason = 'k2'"))"
$Q -q -c "DELETE FROM enclave.entitlement_overrides WHERE reason = 'k2'"
