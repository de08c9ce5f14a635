-- Option (f2) of docs/citus/README.md: the router write runs as the caller; the runtime role
-- holds the DML and the sealed policy is the guard. Tested on save_persona only.
ALTER FUNCTION enclave.save_persona(uuid, text, text, text, text, text[]) SECURITY INVOKER;
GRANT INSERT, UPDATE ON public.personas, agency.personas TO enclave_runtime;
