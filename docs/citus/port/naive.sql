-- Step 2: Citus on Enclave's schema as migrated, no changes. One transaction, each call in a
-- savepoint (psql ON_ERROR_ROLLBACK), rolled back at the end.
\set ON_ERROR_ROLLBACK on
\set VERBOSITY default
BEGIN;
\echo '--- reference: organizations'
SELECT create_reference_table('public.organizations');
\echo '--- reference: organizations with citus.enable_unsafe_triggers'
SET LOCAL citus.enable_unsafe_triggers = on;
SELECT create_reference_table('public.organizations');
\echo '--- reference: users'
SELECT create_reference_table('public.users');
\echo '--- reference: user_identities'
SELECT create_reference_table('public.user_identities');
\echo '--- reference: enclave.plans'
SELECT create_reference_table('enclave.plans');
\echo '--- distributed: memberships'
SELECT create_distributed_table('public.memberships', 'org_id');
\echo '--- distributed: personas (colocate_with memberships)'
SELECT create_distributed_table('public.personas', 'org_id', colocate_with => 'public.memberships');
\echo '--- distributed: brand_guidelines'
SELECT create_distributed_table('public.brand_guidelines', 'org_id', colocate_with => 'public.memberships');
\echo '--- distributed: usage_counters (plain policy org_id = (SELECT current_org_id()))'
SELECT create_distributed_table('public.usage_counters', 'org_id', colocate_with => 'public.memberships');
\echo '--- distributed: enclave.stripe_customers (PK without org_id)'
SELECT create_distributed_table('enclave.stripe_customers', 'org_id', colocate_with => 'public.memberships');
\echo '--- distributed: enclave.billing_findings (FK to a local table)'
SELECT create_distributed_table('enclave.billing_findings', 'org_id', colocate_with => 'public.memberships');
\echo '--- distributed: underway.task_attempt'
SELECT create_distributed_table('underway.task_attempt', 'org_id', colocate_with => 'public.memberships');
ROLLBACK;
