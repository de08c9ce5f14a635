-- Item 4: make every enclave function's EXECUTE privilege on the workers what it is on the
-- coordinator (superuser, on the coordinator). Re-issuing REVOKE/GRANT on the coordinator
-- propagates for distributed functions (measured: "issuing REVOKE execute ON ROUTINE … FROM
-- PUBLIC RESTRICT" on both workers, 2PC). Functions the coordinator itself grants to PUBLIC
-- are left as they are. Idempotent.
DO $$
DECLARE f record; g record;
BEGIN
    FOR f IN SELECT p.oid, p.oid::regprocedure AS fn, p.proacl FROM pg_proc p
              JOIN pg_dist_object o ON o.classid = 'pg_proc'::regclass AND o.objid = p.oid
             WHERE p.pronamespace = 'enclave'::regnamespace LOOP
        IF NOT has_function_privilege('public', f.oid, 'EXECUTE') THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
        END IF;
        FOR g IN SELECT DISTINCT a.grantee::regrole AS grantee FROM aclexplode(f.proacl) a
                  WHERE a.grantee <> 0 AND a.privilege_type = 'EXECUTE' LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.fn, g.grantee);
        END LOOP;
    END LOOP;
END $$;
