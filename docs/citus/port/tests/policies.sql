-- Check (a), as superuser on the coordinator after distribute.sql (psql -v ON_ERROR_STOP=1):
--   1. no RESTRICTIVE policy on any node (coordinator tables; worker shards and shell tables);
--   2. every placement of every Citus table (shards on the workers, reference copies on
--      every node) carries exactly the coordinator table's policies: name, command,
--      permissive, roles, USING, WITH CHECK (compared as an md5 of the deparsed list);
--   3. what 0028 folded in is still in every write policy of the tables that had
--      restrictive ones (billing read-only, seats, admins-only deletes).
-- Raises an exception (non-zero exit with ON_ERROR_STOP) on the first wrong figure.
\pset footer off
SET client_min_messages = notice;

\echo '--- (a) policies per node: restrictive (0 expected) / all'
SELECT 'coordinator ' || current_setting('port') AS node,
       count(*) FILTER (WHERE NOT polpermissive) AS restrictive, count(*) AS policies
  FROM pg_policy
UNION ALL
SELECT 'worker ' || nodeport, split_part(result, '|', 1)::int, split_part(result, '|', 2)::int
  FROM run_command_on_workers($c$SELECT count(*) FILTER (WHERE NOT polpermissive) || '|' || count(*) FROM pg_policy$c$)
ORDER BY 1;

DO $$
DECLARE r record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_policy WHERE NOT polpermissive) THEN
        RAISE EXCEPTION 'FAIL (a): % restrictive policies on the coordinator: %',
            (SELECT count(*) FROM pg_policy WHERE NOT polpermissive),
            (SELECT string_agg(polrelid::regclass || '.' || polname, ', ') FROM pg_policy WHERE NOT polpermissive);
    END IF;
    FOR r IN SELECT * FROM run_command_on_workers(
                 $c$SELECT count(*) FILTER (WHERE NOT polpermissive) FROM pg_policy$c$) LOOP
        IF NOT r.success OR r.result <> '0' THEN
            RAISE EXCEPTION 'FAIL (a): worker %:% has % restrictive policies (or the query failed)',
                r.nodename, r.nodeport, r.result;
        END IF;
    END LOOP;
END $$;

-- The same signature on the coordinator table and on each placement ('%s' = the shard).
CREATE TEMP TABLE citus_policy_check ON COMMIT PRESERVE ROWS AS
SELECT d.logicalrelid AS tbl, c.n AS coordinator, c.sig AS coordinator_sig,
       r.nodeport, r.shardid, r.success,
       CASE WHEN r.success THEN split_part(r.result, ' ', 1)::int END AS placement,
       split_part(r.result, ' ', 2) AS placement_sig, r.result
  FROM pg_dist_partition d
  CROSS JOIN LATERAL (
      SELECT count(*) AS n,
             md5(coalesce(string_agg(p.polname || '|' || p.polcmd::text || '|' || p.polpermissive || '|'
                                     || p.polroles::regrole[]::text || '|'
                                     || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || '|'
                                     || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                                     E'\n' ORDER BY p.polname), '')) AS sig
        FROM pg_policy p WHERE p.polrelid = d.logicalrelid) c
  CROSS JOIN LATERAL run_command_on_placements(d.logicalrelid,
      $c$SELECT count(*) || ' ' || md5(coalesce(string_agg(p.polname || '|' || p.polcmd::text || '|' || p.polpermissive || '|'
                                     || p.polroles::regrole[]::text || '|'
                                     || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || '|'
                                     || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                                     E'\n' ORDER BY p.polname), ''))
           FROM pg_policy p WHERE p.polrelid = '%s'::regclass$c$) r;

\echo '--- (a) policies per Citus table: coordinator, one shard on the first worker, all placements equal?'
SELECT k.tbl, k.coordinator,
       (SELECT placement FROM citus_policy_check w
         WHERE w.tbl = k.tbl AND w.nodeport = (SELECT min(nodeport) FROM pg_dist_node WHERE groupid > 0)
         ORDER BY w.shardid LIMIT 1) AS first_worker_shard,
       count(*) AS placements,
       bool_and(k.success AND k.placement = k.coordinator AND k.placement_sig = k.coordinator_sig) AS identical
  FROM citus_policy_check k
 GROUP BY k.tbl, k.coordinator
 ORDER BY k.tbl::text;

DO $$
DECLARE r record; v_tables int; v_placements int; v_policies int;
BEGIN
    SELECT * INTO r FROM citus_policy_check
     WHERE NOT success OR placement IS DISTINCT FROM coordinator OR placement_sig <> coordinator_sig LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'FAIL (a): % shard % on port %: % policies (%), coordinator % (%)',
            r.tbl, r.shardid, r.nodeport, r.placement, r.result, r.coordinator, r.coordinator_sig;
    END IF;
    SELECT count(DISTINCT tbl), count(*), sum(coordinator) FILTER (WHERE true) INTO v_tables, v_placements, v_policies
      FROM citus_policy_check;
    RAISE NOTICE 'ok (a): 0 restrictive policies on 3 nodes; % Citus tables, % placements, each with exactly its coordinator table''s policies (% policies on the coordinator tables)',
        v_tables, v_placements, (SELECT count(*) FROM pg_policy p JOIN pg_dist_partition d ON d.logicalrelid = p.polrelid);
END $$;

-- What 0028 folded into the permissive policies is still there after distribute.sql's rewrite.
DO $$
DECLARE
    t regclass; p record; n int := 0;
    v_admins text := 'enclave.current_member_role() = ANY (ARRAY[''owner''::text, ''admin''::text])';
BEGIN
    FOREACH t IN ARRAY ARRAY['public.brand_guidelines', 'public.brand_guideline_versions', 'public.personas',
        'public.campaigns', 'public.campaign_outputs', 'public.import_batches',
        'agency.brand_guidelines', 'agency.brand_guideline_versions', 'agency.personas',
        'agency.campaigns', 'agency.campaign_outputs', 'agency.import_batches',
        'agency.client_workspaces']::regclass[] LOOP
        FOR p IN SELECT polname, polcmd, coalesce(pg_get_expr(polqual, polrelid), '') AS q,
                        coalesce(pg_get_expr(polwithcheck, polrelid), '') AS c
                   FROM pg_policy WHERE polrelid = t AND polcmd IN ('a', 'w', 'd', '*') LOOP
            IF p.polcmd = '*'
               OR (p.polcmd = 'a' AND p.c !~ 'require_writable\(\)')
               OR (p.polcmd = 'w' AND (p.q !~ 'require_writable\(\)' OR p.c !~ 'require_writable\(\)'))
               OR (p.polcmd = 'd' AND p.q !~ 'require_writable\(\)') THEN
                RAISE EXCEPTION 'FAIL (a): policy % on % (%) lacks the read-only check: USING % CHECK %',
                    p.polname, t, p.polcmd, p.q, p.c;
            END IF;
            n := n + 1;
        END LOOP;
    END LOOP;
    FOR p IN SELECT polrelid::regclass AS t, polname, polcmd, coalesce(pg_get_expr(polwithcheck, polrelid), '') AS c
               FROM pg_policy WHERE polrelid IN ('public.invitations'::regclass, 'public.memberships'::regclass)
                AND polcmd IN ('a', '*') LOOP
        IF p.polcmd = '*' OR p.c !~ 'require_seat\((true|false)\)' THEN
            RAISE EXCEPTION 'FAIL (a): policy % on % lacks the seat check: %', p.polname, p.t, p.c;
        END IF;
        n := n + 1;
    END LOOP;
    FOR p IN SELECT polrelid::regclass AS t, polname, polcmd, coalesce(pg_get_expr(polqual, polrelid), '') AS q
               FROM pg_policy WHERE polrelid IN ('agency.client_workspaces'::regclass, 'agency.client_assignments'::regclass)
                AND polcmd IN ('d', '*') LOOP
        -- the visibility part has it once (owner/admin OR assigned); the folded part once more
        IF p.polcmd = '*' OR (length(p.q) - length(replace(p.q, v_admins, ''))) / length(v_admins) < 2 THEN
            RAISE EXCEPTION 'FAIL (a): delete policy % on % lacks the admins-only check: %', p.polname, p.t, p.q;
        END IF;
        n := n + 1;
    END LOOP;
    RAISE NOTICE 'ok (a): % write policies carry their folded check (read-only, seats, admins-only deletes)', n;
END $$;

-- 4. Row level security enabled and forced on every placement of every Citus table, on every
--    node: the directory and key readers read the local placement directly, so a placement
--    without RLS would be read whole.
DO $$
DECLARE
    r record;
    v_placements bigint := 0;
BEGIN
    FOR r IN SELECT * FROM run_command_on_all_nodes($c$
                 SELECT count(*) || '|' || count(*) FILTER (WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity))
                        || '|' || coalesce(string_agg(format('%I.%I', n.nspname, c.relname), ', ')
                                           FILTER (WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity)), '')
                   FROM pg_dist_shard s
                   JOIN pg_dist_partition d ON d.logicalrelid = s.logicalrelid
                   JOIN pg_class t ON t.oid = d.logicalrelid
                   JOIN pg_namespace n ON n.oid = t.relnamespace
                   JOIN pg_class c ON c.relnamespace = t.relnamespace AND c.relname = t.relname || '_' || s.shardid
                  WHERE t.relrowsecurity$c$) LOOP
        IF NOT r.success OR split_part(r.result, '|', 2) <> '0' THEN
            RAISE EXCEPTION 'FAIL (a): node %: placements without RLS enabled and forced: % (%)',
                r.nodeid, split_part(r.result, '|', 3), r.result;
        END IF;
        v_placements := v_placements + split_part(r.result, '|', 1)::bigint;
    END LOOP;
    IF v_placements = 0 THEN
        RAISE EXCEPTION 'FAIL (a): no placement of a table with row level security found on any node';
    END IF;
    RAISE NOTICE 'ok (a) row level security enabled and forced on all % placements of the tables that have it, on every node', v_placements;
END $$;
