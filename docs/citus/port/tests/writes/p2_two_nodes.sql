-- Two organizations on two different workers in one transaction, with delegation
-- (runtime role; psql $VARS -v third=<id of third-roasters>, nora owns both).
\pset footer off
\echo '=== T1 delegated enter_context(SME), then delegated enter_context(Third), then a multi-shard read'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.enter_context(:'third', NULL, :'nora', :'p_nora');
SELECT org_id = :'sme' AS sme_row, count(*) FROM public.personas GROUP BY 1 ORDER BY 1;
SELECT enclave.current_org_id() AS coordinator_context;
ROLLBACK;
\echo '=== T1b the same on plain PostgreSQL semantics (no delegation: enter_context as an expression on the coordinator)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL;
SELECT enclave.enter_context(:'third', NULL, :'nora', :'p_nora') IS NULL;
SELECT org_id = :'sme' AS sme_row, count(*) FROM public.personas GROUP BY 1 ORDER BY 1;
ROLLBACK;
\echo '=== T2 coordinator context SME (expression), delegated write for SME, delegated write for Third'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL;
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT enclave.w_save_persona(:'third', NULL, 'Citus test', 'tester', '', '', '{}');
ROLLBACK;
