-- Directory writes on a distributed cluster (either recipe), after seed-demo, as superuser:
--   psql $VARS -v sam=… -v ben=… -f writes.sql   (ids.sh, plus sam/ben; test.sh EXTRA_CHECKS runs it)
-- Membership and client writes through the definers, as the runtime role, committed (2PC
-- when memberships is a reference table), then checked on every placement:
--   x1 invite (SME), x2 accept (memberships INSERT: require_seat on each placement),
--   x3 change role, x4 an invitation by the new admin, x5 accept refused when every seat
--   is taken (EN402 from the seat check in the INSERT policy), x6 remove the admin (her
--   invitation cascades), x7/x8 remove a member who owns campaigns (owner released, the
--   client assignments cascade), x9 client workspaces (slot limit, archive, add, assign),
--   x10 what Citus allows in one transaction around a directory write (observed, reported).
-- Each assertion raises 'FAIL (x…)'; runs on after an error (ON_ERROR_STOP off: the caller
-- looks for ERROR lines). Leaves the data changed (run it last).
\set ON_ERROR_STOP off
\pset footer off
SET client_min_messages = notice;
DELETE FROM enclave.entitlement_overrides WHERE reason LIKE 'directory test%';
INSERT INTO enclave.entitlement_overrides (org_id, feature, value, reason, granted_by)
     VALUES (:'sme', 'seats', 10, 'directory test: room', :'nora');
\c - enclave_app
SET client_min_messages = notice;
SELECT set_config('t.sme', :'sme', false), set_config('t.ag', :'ag', false), set_config('t.blue', :'blue', false),
       set_config('t.acme', :'acme', false), set_config('t.nora', :'nora', false), set_config('t.ada', :'ada', false),
       set_config('t.cleo', :'cleo', false), set_config('t.sam', :'sam', false), set_config('t.ben', :'ben', false) \g /dev/null

\echo '--- x1 nora invites ada to the SME; x2 ada accepts'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT enclave.invite_member('00000000-0000-4000-8000-000000000001', 'ada@brightside.example', 'member', sha256('x1'),
                             true, interval '7 days', 'Invitation', '\x00'::bytea) \g /dev/null
COMMIT;
BEGIN;
SELECT enclave.enter_user(:'ada', :'p_ada') \g /dev/null
DO $$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
    PERFORM enclave.accept_invitation(current_setting('t.sme')::uuid, '00000000-0000-4000-8000-000000000001', sha256('x1'));
    RAISE NOTICE 'ok (x2) accept_invitation: ada is a member of the SME (% ms)', round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END $$;
COMMIT;

\echo '--- x3 nora makes ada an admin; x4 ada invites cleo'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT enclave.change_member_role(:'ada', 'admin') \g /dev/null
COMMIT;
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ BEGIN
    IF enclave.current_member_role() IS DISTINCT FROM 'admin' THEN
        RAISE EXCEPTION 'FAIL (x3): ada''s role in the SME is %', enclave.current_member_role();
    END IF;
    PERFORM enclave.invite_member('00000000-0000-4000-8000-000000000002', 'cleo@brightside.example', 'member', sha256('x4'),
                                  true, interval '7 days', 'Invitation', '\x00'::bytea);
    RAISE NOTICE 'ok (x3/x4) ada is an admin (current_member_role on the coordinator) and invited cleo';
END $$;
COMMIT;

\echo '--- x5 every seat taken: cleo''s accept is refused by the seat check of the INSERT policy'
\c - postgres
UPDATE enclave.entitlement_overrides SET value = 3 WHERE org_id = :'sme' AND reason = 'directory test: room';
\c - enclave_app
SET client_min_messages = notice;
SELECT set_config('t.sme', :'sme', false), set_config('t.ag', :'ag', false), set_config('t.blue', :'blue', false),
       set_config('t.acme', :'acme', false), set_config('t.nora', :'nora', false), set_config('t.ada', :'ada', false),
       set_config('t.cleo', :'cleo', false), set_config('t.sam', :'sam', false), set_config('t.ben', :'ben', false) \g /dev/null
BEGIN;
SELECT enclave.enter_user(:'cleo', :'p_cleo') \g /dev/null
DO $$ BEGIN
    PERFORM enclave.accept_invitation(current_setting('t.sme')::uuid, '00000000-0000-4000-8000-000000000002', sha256('x4'));
    RAISE EXCEPTION 'FAIL (x5): cleo took a fourth seat of three';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    RAISE NOTICE 'ok (x5) accept refused: %', SQLERRM;
END $$;
ROLLBACK;
\c - postgres
UPDATE enclave.entitlement_overrides SET value = 10 WHERE org_id = :'sme' AND reason = 'directory test: room';
\c - enclave_app
SET client_min_messages = notice;
SELECT set_config('t.sme', :'sme', false), set_config('t.ag', :'ag', false), set_config('t.blue', :'blue', false),
       set_config('t.acme', :'acme', false), set_config('t.nora', :'nora', false), set_config('t.ada', :'ada', false),
       set_config('t.cleo', :'cleo', false), set_config('t.sam', :'sam', false), set_config('t.ben', :'ben', false) \g /dev/null

\echo '--- x6 nora removes ada (her pending invitation cascades); x7 nora removes sam (owns a campaign)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
DO $$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
    PERFORM enclave.remove_member(current_setting('t.ada')::uuid);
    RAISE NOTICE 'ok (x6) remove_member(ada) (% ms)', round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END $$;
COMMIT;
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
DO $$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
    PERFORM enclave.remove_member(current_setting('t.sam')::uuid);
    RAISE NOTICE 'ok (x7) remove_member(sam) (% ms)', round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END $$;
COMMIT;

\echo '--- x8 ada removes ben from the agency (3 campaigns, 2 client assignments)'
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
SELECT enclave.remove_member(:'ben') \g /dev/null
COMMIT;

\echo '--- x9 client workspaces: slot limit (an override of 2), archive, add, assign'
\c - postgres
INSERT INTO enclave.entitlement_overrides (org_id, feature, value, reason, granted_by)
     VALUES (:'ag', 'client_workspaces', 2, 'directory test: two clients', :'ada');
\c - enclave_app
SET client_min_messages = notice;
SELECT set_config('t.sme', :'sme', false), set_config('t.ag', :'ag', false), set_config('t.blue', :'blue', false),
       set_config('t.acme', :'acme', false), set_config('t.nora', :'nora', false), set_config('t.ada', :'ada', false),
       set_config('t.cleo', :'cleo', false), set_config('t.sam', :'sam', false), set_config('t.ben', :'ben', false) \g /dev/null
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ BEGIN
    PERFORM enclave.add_client('Directory Test');
    RAISE EXCEPTION 'FAIL (x9): a third open client on the free agency plan';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    RAISE NOTICE 'ok (x9) third client refused: %', left(SQLERRM, 80);
END $$;
ROLLBACK;
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
SELECT enclave.archive_client(:'blue', true) \g /dev/null
SELECT enclave.add_client('Directory Test') \g /dev/null
SELECT enclave.set_client_assignment((SELECT workspace_id FROM agency.client_workspaces WHERE name = 'Directory Test'), :'cleo', true) \g /dev/null
COMMIT;

\echo '--- x10 a directory write in a transaction with other Citus work (observed)'
-- (i) a multi-shard read (the policy function keeps Citus from pruning), then a role change
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ DECLARE n bigint; BEGIN
    SELECT count(*) INTO n FROM agency.personas;
    PERFORM enclave.change_member_role(current_setting('t.cleo')::uuid, 'admin');
    RAISE NOTICE 'ok (x10 i) multi-shard read, then change_member_role: works';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'ok (x10 i) [observed] multi-shard read, then change_member_role: % (%)', SQLERRM, SQLSTATE;
END $$;
ROLLBACK;
-- (ii) a role change (definer, owner role), then a read as the runtime role
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ DECLARE n bigint; BEGIN
    PERFORM enclave.change_member_role(current_setting('t.cleo')::uuid, 'admin');
    SELECT count(*) INTO n FROM public.memberships;
    RAISE NOTICE 'ok (x10 ii) change_member_role, then a runtime read of memberships: works (% rows)', n;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'ok (x10 ii) [observed] change_member_role, then a runtime read of memberships: % (%)', SQLERRM, SQLSTATE;
END $$;
ROLLBACK;
-- (iii) a role change, then a runtime read of a distributed table
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ DECLARE n bigint; v_ag uuid := current_setting('t.ag'); BEGIN
    PERFORM enclave.change_member_role(current_setting('t.cleo')::uuid, 'admin');
    SELECT count(*) INTO n FROM agency.personas WHERE org_id = v_ag;
    RAISE NOTICE 'ok (x10 iii) change_member_role, then a runtime read of agency.personas (one shard): works (% rows)', n;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'ok (x10 iii) [observed] change_member_role, then a runtime read of agency.personas: % (%)', SQLERRM, SQLSTATE;
END $$;
ROLLBACK;

-- Checks on every placement (superuser).
\c - postgres
SET client_min_messages = notice;
SELECT set_config('t.sme', :'sme', false), set_config('t.ag', :'ag', false), set_config('t.ada', :'ada', false),
       set_config('t.sam', :'sam', false), set_config('t.ben', :'ben', false), set_config('t.cleo', :'cleo', false),
       set_config('t.nora', :'nora', false) \g /dev/null
DO $$
DECLARE r record; v_bad text := ''; v_sme uuid := current_setting('t.sme'); v_ag uuid := current_setting('t.ag');
        v_sam uuid := current_setting('t.sam'); v_ben uuid := current_setting('t.ben'); v_cleo uuid := current_setting('t.cleo');
BEGIN
    -- memberships: SME = nora only; agency = ada, cleo (ben removed); the same on every placement
    -- (per placement only for a reference table: a distributed table's shards hold parts)
    FOR r IN SELECT nodeport, shardid, result FROM run_command_on_placements('public.memberships',
                 $c$SELECT string_agg(org_id || ':' || role, ',' ORDER BY org_id, role) FROM %s$c$)
              WHERE (SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'public.memberships'::regclass) = 'n' LOOP
        IF r.result IS DISTINCT FROM (SELECT string_agg(org_id || ':' || role, ',' ORDER BY org_id, role) FROM public.memberships) THEN
            v_bad := v_bad || format(' memberships placement %s on %s differs: %s;', r.shardid, r.nodeport, r.result);
        END IF;
    END LOOP;
    IF (SELECT count(*) FROM public.memberships WHERE org_id = v_sme) <> 1
       OR (SELECT count(*) FROM public.memberships WHERE org_id = v_ag) <> 2 THEN
        v_bad := v_bad || format(' members: SME %s, agency %s;', (SELECT count(*) FROM public.memberships WHERE org_id = v_sme),
                                 (SELECT count(*) FROM public.memberships WHERE org_id = v_ag));
    END IF;
    IF EXISTS (SELECT 1 FROM public.invitations WHERE invitation_id = '00000000-0000-4000-8000-000000000002') THEN
        v_bad := v_bad || ' ada''s invitation did not cascade;';
    END IF;
    IF EXISTS (SELECT 1 FROM public.campaigns WHERE owner_id = v_sam)
       OR (SELECT count(*) FROM public.campaigns WHERE org_id = v_sme) <> 5 THEN
        v_bad := v_bad || ' sam''s campaigns not released (or gone);';
    END IF;
    IF EXISTS (SELECT 1 FROM agency.campaigns WHERE owner_id = v_ben)
       OR (SELECT count(*) FROM agency.campaigns WHERE org_id = v_ag) <> 5 THEN
        v_bad := v_bad || ' ben''s agency campaigns not released (or gone);';
    END IF;
    IF EXISTS (SELECT 1 FROM agency.client_assignments WHERE user_id = v_ben) THEN
        v_bad := v_bad || ' ben''s client assignments did not cascade;';
    END IF;
    IF (SELECT count(*) FROM agency.client_assignments a JOIN agency.client_workspaces w USING (org_id, workspace_id)
         WHERE w.name = 'Directory Test' AND a.user_id = v_cleo) <> 1 THEN
        v_bad := v_bad || ' cleo is not assigned to the new client;';
    END IF;
    FOR r IN SELECT nodeport, shardid, result FROM run_command_on_placements('agency.client_assignments',
                 $c$SELECT count(*) || '/' || count(*) FILTER (WHERE workspace_id IN (SELECT workspace_id FROM agency.client_workspaces WHERE name = 'Directory Test')) FROM %s$c$)
              WHERE (SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'agency.client_assignments'::regclass) = 'n' LOOP
        IF r.result IS DISTINCT FROM '2/1' THEN
            v_bad := v_bad || format(' client_assignments placement on %s: %s (2/1 expected);', r.nodeport, r.result);
        END IF;
    END LOOP;
    IF v_bad <> '' THEN RAISE EXCEPTION 'FAIL (x): %', v_bad; END IF;
    RAISE NOTICE 'ok (x) every placement: SME 1 member, agency 2; ada''s invitation cascaded; sam''s and ben''s campaigns kept, owner released; ben''s assignments cascaded; the new client assigned';
END $$;
DELETE FROM enclave.entitlement_overrides WHERE reason LIKE 'directory test%';
