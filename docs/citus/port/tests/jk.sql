\echo '=== J2/K2: the single-statement doors inside BEGIN ... COMMIT'
BEGIN;
SELECT org_id = :'sme' AS own, voice IS NOT NULL AS has_voice FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
COMMIT;
BEGIN;
SELECT user_name, jsonb_array_length(organizations) AS orgs, org_kind, role, jsonb_array_length(clients) AS clients, workspace_id
  FROM enclave.page_context(:'cleo', :'ag', 'blue-harbor-bank', :'p_cleo');
COMMIT;
BEGIN;
SELECT user_name, org_kind, role, jsonb_array_length(clients) AS clients, workspace_id IS NOT NULL AS in_client
  FROM enclave.page_context(:'ada', :'ag', 'acme-outdoors', :'p_ada');
COMMIT;
\echo '=== K3: forged, read_brand_guidelines of the agency with nora''s proof'
BEGIN;
SELECT count(*) FROM enclave.read_brand_guidelines(:'ag', NULL, :'nora', :'p_nora');
ROLLBACK;
