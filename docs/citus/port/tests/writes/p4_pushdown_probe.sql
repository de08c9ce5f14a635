-- Item 4 probe (runtime role; psql $VARS): the coordinator does not check EXECUTE on the
-- functions of a query it pushes down to the shards; the workers check their own ACLs.
\echo '=== S0 on the coordinator: context_binding() is owner-only'
SELECT enclave.context_binding();
\echo '=== S1 the same function inside a query pushed down to the shards'
SELECT count(*) FROM public.personas WHERE enclave.context_binding() IS NOT NULL;
\echo '=== X3 honest SME context, then seal_context(agency) evaluated on the worker in a pushed-down SELECT list'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.seal_context(:'ag', :'nora', :'acme')::text FROM public.personas WHERE org_id = :'sme' LIMIT 1;
ROLLBACK;
\echo '=== P0 assign_distributed_transaction_id on the coordinator (revoked by distribute.sql)'
SELECT assign_distributed_transaction_id(0, 1, now());
\echo '=== P1 pushed down (workers must keep it executable for the runtime role: the coordinator calls it as that user)'
SELECT count(*) FROM public.personas p WHERE p.org_id = :'sme' AND EXISTS (SELECT 1 FROM enclave.plans pl WHERE assign_distributed_transaction_id(0, 1, now()) IS NULL);
