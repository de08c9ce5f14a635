# Sourced: ids and proofs (computed as superuser from enclave.context_proof_keys).
Q="psql -X -At -h 127.0.0.1 -p ${PORT:-55432} -U postgres -d enclave"
uid() { $Q -c "select id from users where email = '$1'"; }
# proof_sql comes from scripts/lib.sh (sourced here when the caller has not).
command -v proof_sql >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/../../../../scripts/lib.sh"
proof() { $Q -c "select $(proof_sql "'$1'") from enclave.context_proof_keys k limit 1"; }
SME=$($Q -c "select id from organizations where slug='northwind-coffee'")
AG=$($Q -c "select id from organizations where slug='brightside-agency'")
ACME=$($Q -c "select workspace_id from agency.client_workspaces where name='Acme Outdoors'")
BLUE=$($Q -c "select workspace_id from agency.client_workspaces where name='Blue Harbor Bank'")
NORA=$(uid nora@northwind.example); ADA=$(uid ada@brightside.example); CLEO=$(uid cleo@brightside.example)
P_NORA=$(proof "user/$NORA"); P_ADA=$(proof "user/$ADA"); P_CLEO=$(proof "user/$CLEO"); P_SYS=$(proof system)
VARS="-v sme=$SME -v ag=$AG -v acme=$ACME -v blue=$BLUE -v nora=$NORA -v ada=$ADA -v cleo=$CLEO -v p_nora=$P_NORA -v p_ada=$P_ADA -v p_cleo=$P_CLEO -v p_sys=$P_SYS"
