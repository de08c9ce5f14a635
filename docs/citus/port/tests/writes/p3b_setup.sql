-- P2 alternative (b): invoker routers, the runtime role holds the DML (superuser).
-- Run p3a_undo.sql first if p3a_setup.sql ran.
ALTER FUNCTION enclave.save_persona(uuid, text, text, text, text, text[]) SECURITY INVOKER;
GRANT INSERT, UPDATE ON public.personas, agency.personas TO enclave_runtime;
-- found by running save_persona as an invoker until it stopped failing: one helper
-- ("ERROR:  permission denied for function require_scope")
GRANT EXECUTE ON FUNCTION enclave.require_scope() TO enclave_runtime;
