-- No restrictive policies: their conditions move into the permissive policies (issue 14).
--
-- Citus creates a restrictive policy as a permissive one on its shards (measured on
-- Citus 13.2.2 with Enclave's schema: 43 of 104 policies, docs/citus/port/REPORT.md).
-- A permissive "billing_writable_insert" ORed with the tenant policy would let any
-- statement whose billing check passes insert rows for any organization. So before a
-- table can be distributed, what a restrictive policy demands has to be part of each
-- permissive policy itself. Same rows, same errors on one node:
--
--   allowed(command) = (OR of permissive) AND (AND of restrictive)
--                    = OR of (permissive AND (AND of restrictive))
--
-- A permissive policy FOR ALL on such a table is split into one policy per command
-- (<name>_select, _insert, _update, _delete) because the restrictive conditions differ by
-- command (the seat check is for inserts only). Generic over pg_policy rather than
-- hand-written: the rewritten expressions are the deparsed originals, so nothing is
-- retyped, and the tenancy audit refuses restrictive policies from now on.
DO $$
DECLARE
    v_table regclass;
    v_policy record;
    v_roles text;
    v_qual text;
    v_check text;
    v_select text;
    v_insert text;
    v_update_using text;
    v_update_check text;
    v_delete text;
    v_search_path text := current_setting('search_path');
BEGIN
    -- Deparse with every name qualified, so the expressions mean the same when re-created
    -- (put back at the end: the migration runner records the migration in this transaction).
    PERFORM set_config('search_path', 'pg_catalog', true);
    FOR v_table IN SELECT DISTINCT polrelid::regclass FROM pg_policy WHERE NOT polpermissive LOOP
        IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = v_table AND NOT polpermissive
                      AND polcmd IN ('r', 'w', 'd', '*') AND polqual IS NULL) THEN
            RAISE EXCEPTION 'restrictive policy on % without USING: fold it by hand', v_table;
        END IF;
        -- What the restrictive policies demand, per command ('' when nothing).
        SELECT coalesce(string_agg(format(' AND (%s)', pg_get_expr(polqual, polrelid)), '' ORDER BY polname)
                            FILTER (WHERE polcmd IN ('r', '*')), ''),
               coalesce(string_agg(format(' AND (%s)', pg_get_expr(coalesce(polwithcheck, polqual), polrelid)), '' ORDER BY polname)
                            FILTER (WHERE polcmd IN ('a', '*')), ''),
               coalesce(string_agg(format(' AND (%s)', pg_get_expr(polqual, polrelid)), '' ORDER BY polname)
                            FILTER (WHERE polcmd IN ('w', '*')), ''),
               coalesce(string_agg(format(' AND (%s)', pg_get_expr(coalesce(polwithcheck, polqual), polrelid)), '' ORDER BY polname)
                            FILTER (WHERE polcmd IN ('w', '*')), ''),
               coalesce(string_agg(format(' AND (%s)', pg_get_expr(polqual, polrelid)), '' ORDER BY polname)
                            FILTER (WHERE polcmd IN ('d', '*')), '')
          INTO v_select, v_insert, v_update_using, v_update_check, v_delete
          FROM pg_policy WHERE polrelid = v_table AND NOT polpermissive;

        FOR v_policy IN SELECT * FROM pg_policy WHERE polrelid = v_table AND polpermissive ORDER BY polname LOOP
            SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE quote_ident(a.rolname) END, ', ')
              INTO v_roles
              FROM unnest(v_policy.polroles) r LEFT JOIN pg_roles a ON a.oid = r;
            v_qual := pg_get_expr(v_policy.polqual, v_table);
            v_check := coalesce(pg_get_expr(v_policy.polwithcheck, v_table), v_qual);
            CASE v_policy.polcmd
            WHEN '*' THEN
                IF v_qual IS NULL THEN
                    RAISE EXCEPTION 'policy % on % has no USING: fold it by hand', v_policy.polname, v_table;
                END IF;
                EXECUTE format('DROP POLICY %I ON %s', v_policy.polname, v_table);
                EXECUTE format('CREATE POLICY %I ON %s FOR SELECT TO %s USING ((%s)%s)',
                               v_policy.polname || '_select', v_table, v_roles, v_qual, v_select);
                EXECUTE format('CREATE POLICY %I ON %s FOR INSERT TO %s WITH CHECK ((%s)%s)',
                               v_policy.polname || '_insert', v_table, v_roles, v_check, v_insert);
                EXECUTE format('CREATE POLICY %I ON %s FOR UPDATE TO %s USING ((%s)%s) WITH CHECK ((%s)%s)',
                               v_policy.polname || '_update', v_table, v_roles, v_qual, v_update_using, v_check, v_update_check);
                EXECUTE format('CREATE POLICY %I ON %s FOR DELETE TO %s USING ((%s)%s)',
                               v_policy.polname || '_delete', v_table, v_roles, v_qual, v_delete);
            WHEN 'r' THEN
                IF v_select <> '' THEN
                    EXECUTE format('ALTER POLICY %I ON %s USING ((%s)%s)', v_policy.polname, v_table, v_qual, v_select);
                END IF;
            WHEN 'a' THEN
                IF v_insert <> '' THEN
                    EXECUTE format('ALTER POLICY %I ON %s WITH CHECK ((%s)%s)', v_policy.polname, v_table, v_check, v_insert);
                END IF;
            WHEN 'w' THEN
                IF v_update_using <> '' OR v_update_check <> '' THEN
                    EXECUTE format('ALTER POLICY %I ON %s USING ((%s)%s) WITH CHECK ((%s)%s)',
                                   v_policy.polname, v_table, v_qual, v_update_using, v_check, v_update_check);
                END IF;
            WHEN 'd' THEN
                IF v_delete <> '' THEN
                    EXECUTE format('ALTER POLICY %I ON %s USING ((%s)%s)', v_policy.polname, v_table, v_qual, v_delete);
                END IF;
            END CASE;
        END LOOP;

        FOR v_policy IN SELECT polname FROM pg_policy WHERE polrelid = v_table AND NOT polpermissive LOOP
            EXECUTE format('DROP POLICY %I ON %s', v_policy.polname, v_table);
        END LOOP;
    END LOOP;
    PERFORM set_config('search_path', v_search_path, true);
END $$;
