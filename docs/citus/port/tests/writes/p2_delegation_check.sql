-- Delegated read_brand_guidelines, as the runtime role (psql $VARS), single statements.
\pset footer off
SET citus.log_remote_commands = on;
\echo '=== D1 SELECT cols FROM fn(...), honest (nora, SME)'
SELECT org_id = :'sme' AS own, voice IS NOT NULL AS has_voice FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
\echo '=== D1b SELECT * FROM fn(...), honest (ada, agency, Acme)'
SELECT org_id = :'ag' AS own, workspace_id = :'acme' AS in_acme FROM enclave.read_brand_guidelines(:'ag', :'acme', :'ada', :'p_ada');
\echo '=== D2 SELECT fn(...), honest'
SELECT enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
\echo '=== D2b SELECT (fn(...)).org_id: an expression (not delegated)'
SELECT (enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora')).org_id = :'sme' AS own;
\echo '=== D3 forged: agency with nora''s proof (expect not a member)'
SELECT count(*) FROM enclave.read_brand_guidelines(:'ag', NULL, :'nora', :'p_nora');
\echo '=== D3b forged: nora with ada''s proof (expect no valid proof)'
SELECT count(*) FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_ada');
\echo '=== D4 inside BEGIN (no force_delegation): delegated?'
BEGIN;
SELECT org_id = :'sme' AS own FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.current_org_id() = :'sme' AS coordinator_context_after_call;
COMMIT;
