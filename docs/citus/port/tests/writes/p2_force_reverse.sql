-- After a delegated definer write (the worker runs it inside the runtime role's connection),
-- the coordinator's own definers read the same colocated placements over the OWNER's
-- connection (runtime role; psql $VARS). enter_context is not delegated here
-- (create_distributed_function without a distribution argument).
\pset footer off
\echo '=== R1 enter_context, delegated write, enter_context again (membership check as the owner)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
ROLLBACK;
\echo '=== R2 enter_context, delegated write, original save_persona (definer, not delegated: owner connection)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT enclave.save_persona(NULL, 'Citus test 2', 'tester', '', '', '{}') IS NOT NULL AS saved;
ROLLBACK;
\echo '=== R3 enter_context, original save_persona (owner connection), then the delegated write (app connection)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.save_persona(NULL, 'Citus test 2', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
ROLLBACK;
\echo '=== R4 delegated definer write (tenant shard, runtime connection), then a definer write of a reference table (rename_organization: organizations, owner connection)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT enclave.rename_organization('Northwind Coffee Co') IS NULL AS renamed;
SELECT name FROM public.organizations WHERE id = :'sme';
ROLLBACK;
