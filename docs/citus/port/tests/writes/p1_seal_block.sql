-- P1 fix candidate B (superuser, after distribute.sql): one change in seal_context (and
-- seal_system_path): the read that makes Citus assign the distributed transaction id runs
-- inside a block with an EXCEPTION clause; the SET LOCALs stay OUTSIDE it.
-- Why outside: Citus forgets the SET LOCALs of a subtransaction when it ends, even when it
-- commits (transaction_management.c PopSubXact: "activeSetStmts = state->setLocalCmds"), so
-- worker connections opened later in the statement do not get them (candidate A, measured:
-- the door passes on the coordinator, 0 rows on the workers).
-- Why the block works: inside a subtransaction PostgreSQL's IsTransactionBlock() is true
-- (blockState TBLOCK_SUBINPROGRESS), and Citus opens remote transaction blocks for a read
-- when IsTransactionBlock() (executor_util_tasks.c TaskListRequiresRollback), i.e. it calls
-- UseCoordinatedTransaction(), which assigns the id. After that every query of the
-- statement runs in the coordinated transaction (InCoordinatedTransaction()).
-- The original read_brand_guidelines / page_context are put back first (candidate A undone).
\ir originals_doors.sql
DO $do$
DECLARE
    v_shard text := (SELECT format('enclave.%I', 'context_key_' || shardid) FROM pg_dist_shard
                      WHERE logicalrelid = 'enclave.context_key'::regclass);
BEGIN
    EXECUTE format($f$
    CREATE OR REPLACE FUNCTION enclave.seal_context(p_org uuid, p_user uuid, p_workspace uuid) RETURNS void
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
            v_org text := coalesce(p_org::text, '');
            v_user text := coalesce(p_user::text, '');
            v_workspace text := coalesce(p_workspace::text, '');
            v_seal text;
        BEGIN
            -- A Citus query in a subtransaction: assigns the distributed transaction id
            -- even in a single statement (no BEGIN). Re-raises whatever it catches.
            -- Only while there is no id yet (the first seal of a statement / transaction):
            -- once the transaction is coordinated, every subtransaction costs a SAVEPOINT and
            -- a RELEASE on each open worker connection.
            IF enclave.context_binding() IS NULL THEN
                BEGIN
                    PERFORM 1 FROM enclave.context_key;
                EXCEPTION WHEN OTHERS THEN
                    RAISE;
                END;
            END IF;
            SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(v_org || '/' || v_user || '/'
                          || v_workspace || '/' || enclave.context_binding(), 'UTF8'))), 'hex')
              INTO v_seal FROM %1$s k;
            PERFORM enclave.put_context(v_org, v_user, v_workspace, v_seal);
        END $$ $f$, v_shard);
    EXECUTE format($f$
    CREATE OR REPLACE FUNCTION enclave.seal_system_path() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE v_seal text;
        BEGIN
            IF enclave.context_binding() IS NULL THEN
                BEGIN
                    PERFORM 1 FROM enclave.context_key;   -- assigns the distributed transaction id
                EXCEPTION WHEN OTHERS THEN
                    RAISE;
                END;
            END IF;
            SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad
                          || convert_to('system/' || enclave.context_binding(), 'UTF8'))), 'hex')
              INTO v_seal FROM %1$s k;
            PERFORM enclave.put_setting('enclave.system_seal', v_seal);
            RETURN NULL;
        END $$ $f$, v_shard);
END $do$;
