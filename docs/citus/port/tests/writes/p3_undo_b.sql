-- Undo p3b_setup.sql (superuser): save_persona back to a definer, the runtime role's DML and
-- require_scope grant revoked.
ALTER FUNCTION enclave.save_persona(uuid, text, text, text, text, text[]) SECURITY DEFINER;
REVOKE INSERT, UPDATE ON public.personas, agency.personas FROM enclave_runtime;
REVOKE EXECUTE ON FUNCTION enclave.require_scope() FROM enclave_runtime;
