-- P1 probe (superuser): when does Citus assign a distributed transaction id in a single
-- statement (implicit transaction)? Run: psql -h … -U postgres -d enclave -f p1_probe.sql
CREATE SCHEMA IF NOT EXISTS wtest;
CREATE OR REPLACE FUNCTION wtest.txn() RETURNS text LANGUAGE sql AS $$
    SELECT t.initiator_node_identifier || ':' || t.transaction_number || ':' || coalesce(t.transaction_stamp::text, '-')
      FROM get_current_transaction_id() t $$;
-- a Citus query (reference table, local placement) with no subtransaction
CREATE OR REPLACE FUNCTION wtest.tx_plain() RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM 1 FROM enclave.plans; RETURN wtest.txn(); END $$;
-- the same query inside a block with an EXCEPTION clause (a subtransaction)
CREATE OR REPLACE FUNCTION wtest.tx_exc() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN PERFORM 1 FROM enclave.plans; EXCEPTION WHEN OTHERS THEN RAISE; END;
    RETURN wtest.txn();           -- read after the block has ended
END $$;
-- a subtransaction with no Citus query in it
CREATE OR REPLACE FUNCTION wtest.tx_exc_empty() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN NULL; EXCEPTION WHEN OTHERS THEN RAISE; END;
    PERFORM 1 FROM enclave.plans;
    RETURN wtest.txn();
END $$;
-- a router query to a worker inside the block
CREATE OR REPLACE FUNCTION wtest.tx_exc_router(p_org uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN PERFORM 1 FROM public.memberships WHERE org_id = p_org; EXCEPTION WHEN OTHERS THEN RAISE; END;
    RETURN wtest.txn();
END $$;
GRANT USAGE ON SCHEMA wtest TO enclave_runtime;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA wtest TO enclave_runtime;

SELECT 'plain' AS f, wtest.tx_plain() AS txn
UNION ALL SELECT 'plain again', wtest.tx_plain();
SELECT 'exc' AS f, wtest.tx_exc() AS txn;
SELECT 'exc again (next statement)' AS f, wtest.tx_exc() AS txn;
SELECT 'empty block, Citus query after' AS f, wtest.tx_exc_empty() AS txn;
SELECT 'router query in block' AS f, wtest.tx_exc_router(:'sme') AS txn;
SELECT 'router query in block (next)' AS f, wtest.tx_exc_router(:'sme') AS txn;
