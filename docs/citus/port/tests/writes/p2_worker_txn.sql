-- Which distributed transaction id does a delegated door seal with? (superuser part, then
-- the runtime role in p2_worker_txn_check.sql)
CREATE OR REPLACE FUNCTION enclave.w_txn(p_org uuid, p_user uuid, p_proof text)
RETURNS TABLE (node_port int, txn text, org_seen uuid, personas bigint)
LANGUAGE plpgsql SET search_path TO 'pg_catalog', 'pg_temp' AS $$
BEGIN
    PERFORM enclave.enter_context(p_org, NULL, p_user, p_proof);
    node_port := current_setting('port')::int;
    SELECT t.initiator_node_identifier || ':' || t.transaction_number || ':' || t.transaction_stamp INTO txn
      FROM get_current_transaction_id() t;
    org_seen := enclave.current_org_id();
    SELECT count(*) INTO personas FROM public.personas WHERE org_id = p_org;
    RETURN NEXT;
END $$;
ALTER FUNCTION enclave.w_txn(uuid, uuid, text) OWNER TO enclave_owner;
REVOKE ALL ON FUNCTION enclave.w_txn(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enclave.w_txn(uuid, uuid, text) TO enclave_runtime;
SELECT create_distributed_function('enclave.w_txn(uuid,uuid,text)', 'p_org', colocate_with := 'public.memberships');
SELECT nodeid, groupid, nodeport FROM pg_dist_node ORDER BY nodeid;
