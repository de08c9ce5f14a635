-- P1 checks, as the runtime role, every statement on its own (no BEGIN): run after
-- p1_exception.sql (candidate A) or p1_seal_block.sql (candidate B).
--   psql -h … -U enclave_app -d enclave $VARS -f p1_check.sql      (VARS from ../ids.sh)
\pset footer off
\echo '=== 1. honest, single statement: read_brand_guidelines (SME, nora)'
SELECT org_id = :'sme' AS own, voice IS NOT NULL AS has_voice FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
\echo '=== 1b. honest, single statement: read_brand_guidelines (agency, ada, client Acme)'
SELECT count(*) AS rows, bool_and(org_id = :'ag') AS own FROM enclave.read_brand_guidelines(:'ag', :'acme', :'ada', :'p_ada');
\echo '=== 2. honest, single statement: page_context (cleo, agency, blue-harbor-bank: not assigned)'
SELECT user_name, jsonb_array_length(organizations) AS orgs, org_kind, role, jsonb_array_length(clients) AS clients, workspace_id
  FROM enclave.page_context(:'cleo', :'ag', 'blue-harbor-bank', :'p_cleo');
\echo '=== 2b. page_context (ada, agency, acme-outdoors)'
SELECT user_name, org_kind, role, jsonb_array_length(clients) AS clients, workspace_id = :'acme' AS in_acme
  FROM enclave.page_context(:'ada', :'ag', 'acme-outdoors', :'p_ada');
\echo '=== 2c. page_context (nora, SME)'
SELECT user_name, org_kind, role, jsonb_array_length(clients) AS clients FROM enclave.page_context(:'nora', :'sme', NULL, :'p_nora');
\echo '=== 3. forged: the agency with nora''s proof (expect ERROR not a member)'
SELECT count(*) FROM enclave.read_brand_guidelines(:'ag', NULL, :'nora', :'p_nora');
\echo '=== 3b. forged: nora with ada''s proof (expect ERROR no valid proof)'
SELECT count(*) FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_ada');
\echo '=== 3c. page_context of the agency for nora (not her org: no org part, no error)'
SELECT user_name, org_id, org_kind, role FROM enclave.page_context(:'nora', :'ag', NULL, :'p_nora');
\echo '=== 4. binding per statement: capture an honest seal and its transaction id (wtest.honest), twice'
SELECT * FROM wtest.honest(:'sme', NULL, :'nora', :'p_nora') \gset h1_
SELECT * FROM wtest.honest(:'sme', NULL, :'nora', :'p_nora') \gset h2_
SELECT :'h1_txn' AS txn_1, :'h2_txn' AS txn_2, :'h1_txn' <> :'h2_txn' AS differ,
       :'h1_seal' <> :'h2_seal' AS seals_differ, :'h1_org_seen' = :'sme' AS org_verified_1,
       :'h1_personas' AS personas_1, :'h1_memberships' AS memberships_1;
\echo '=== 5. replay: statement 1''s seal put back (SET LOCAL, propagated) in a later statement, id assigned (expect NULL org, 0 rows)'
SELECT * FROM wtest.replay(:'sme', :'nora', '', :'h1_seal');
\echo '=== 5b. forged: settings with no seal'
SELECT * FROM wtest.replay(:'sme', :'nora', '', '');
\echo '=== 6. after the statement: no context left'
SELECT enclave.current_org_id() IS NULL AS no_context_left_after_statement;
