\echo === f1 definer insert, then runtime read (router, same org)
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT enclave.insert_item(1001, 'via definer');
SELECT count(*) FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
ROLLBACK;
\echo === f1b definer insert, then runtime multi-shard read
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT enclave.insert_item(1001, 'via definer');
SELECT count(*) FROM items;
ROLLBACK;
\echo === f1c runtime read first, then definer insert
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT count(*) FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
SELECT enclave.insert_item(1001, 'via definer');
SELECT count(*) FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
ROLLBACK;
\echo === f2 all tenant reads through SECURITY DEFINER functions (sql and plpgsql)
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT enclave.insert_item(1001, 'via definer');
SELECT count(*) AS via_definer_sql FROM enclave.list_items();
SELECT count(*) AS via_definer_plpgsql FROM enclave.list_items_plpgsql();
SELECT enclave.insert_item(1002, 'via definer 2');
SELECT count(*) AS via_definer_sql FROM enclave.list_items();
ROLLBACK;
\echo === f3 SECURITY INVOKER router function (runtime holds INSERT; policy guards), then runtime read
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
SELECT public.insert_item_invoker(1001, 'via invoker');
SELECT count(*) AS runtime_router FROM items WHERE org_id = '00000000-0000-0000-0000-000000000001';
SELECT count(*) AS runtime_multishard FROM items;
INSERT INTO items VALUES ('00000000-0000-0000-0000-000000000001', 1003, 'direct insert, own org');
SELECT count(*) AS after_direct FROM items;
ROLLBACK;
\echo === f3b cross-tenant insert as runtime in a sealed org1 context
BEGIN;
SELECT enclave.enter_context_sl('00000000-0000-0000-0000-000000000001', NULL, '00000000-0000-0000-0000-0000000000aa');
INSERT INTO items VALUES ('00000000-0000-0000-0000-000000000002', 1004, 'cross tenant');
ROLLBACK;
\echo === f3c insert as runtime with forged context
BEGIN;
SET LOCAL enclave.org_id = '00000000-0000-0000-0000-000000000002';
INSERT INTO items VALUES ('00000000-0000-0000-0000-000000000002', 1005, 'forged');
ROLLBACK;
\echo === f3d invoker insert without context
BEGIN;
SELECT public.insert_item_invoker(1006, 'no context');
ROLLBACK;
