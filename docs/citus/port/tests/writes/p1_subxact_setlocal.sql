-- Citus forgets SET LOCALs made in a subtransaction for connections opened after it, even in
-- an explicit transaction (runtime role; psql $VARS). Expect coordinator_verified = t and
-- personas_on_workers = 0 (3 when enter_context runs at the top level).
BEGIN;
SELECT set_config('w.o', :'sme', true), set_config('w.u', :'nora', true), set_config('w.p', :'p_nora', true) \g /dev/null
DO $$ BEGIN
  BEGIN PERFORM enclave.enter_context(current_setting('w.o')::uuid, NULL, current_setting('w.u')::uuid, current_setting('w.p'));
  EXCEPTION WHEN OTHERS THEN RAISE; END;
END $$;
SELECT enclave.current_org_id() = :'sme' AS coordinator_verified;
SELECT count(*) AS personas_on_workers FROM public.personas;
COMMIT;
