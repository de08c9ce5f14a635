-- Included by iso_assert.sql after a statement sent with ON_ERROR_STOP off: it must have
-- failed with a refusal of the door (citus_test.err holds psql's LAST_ERROR_MESSAGE, '' if none).
DO $$ BEGIN
    IF current_setting('citus_test.err') NOT IN ('unknown user', 'user is not a member of this organization') THEN
        RAISE EXCEPTION 'FAIL (d) %: expected the door to refuse, got %', current_setting('citus_test.case'),
            coalesce(nullif(current_setting('citus_test.err'), ''), 'no error');
    END IF;
    RAISE NOTICE 'ok (d) %: fails closed (%)', current_setting('citus_test.case'), current_setting('citus_test.err');
END $$;
