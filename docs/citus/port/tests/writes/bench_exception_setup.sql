-- Cost of an EXCEPTION block on plain single-node PostgreSQL 15 (no Citus). Two plpgsql
-- functions shaped like seal_context: a one-row key read, an HMAC (two sha256), a
-- transaction-local setting. f_exc runs the key read inside BEGIN … EXCEPTION WHEN OTHERS
-- THEN RAISE; END (a subtransaction; read-only, so no subtransaction xid is assigned).
DROP TABLE IF EXISTS k CASCADE;
CREATE TABLE k (id int PRIMARY KEY, inner_pad bytea, outer_pad bytea);
INSERT INTO k VALUES (1, sha256('i'), sha256('o'));
CREATE OR REPLACE FUNCTION f_plain(p text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE v text;
BEGIN
    PERFORM 1 FROM k;
    SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(p || '/' || txid_current_if_assigned()::text, 'UTF8'))), 'hex') INTO v FROM k;
    PERFORM set_config('x.seal', coalesce(v, ''), true);
    RETURN v;
END $$;
CREATE OR REPLACE FUNCTION f_exc(p text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE v text;
BEGIN
    BEGIN
        PERFORM 1 FROM k;
    EXCEPTION WHEN OTHERS THEN
        RAISE;
    END;
    SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(p || '/' || txid_current_if_assigned()::text, 'UTF8'))), 'hex') INTO v FROM k;
    PERFORM set_config('x.seal', coalesce(v, ''), true);
    RETURN v;
END $$;
-- a read function around it, like read_brand_guidelines: the seal, then a 1-row indexed read
DROP TABLE IF EXISTS items CASCADE;
CREATE TABLE items (org_id int, id int, body text, PRIMARY KEY (org_id, id));
INSERT INTO items SELECT o, i, repeat('x', 200) FROM generate_series(1, 100) o, generate_series(1, 1) i;
CREATE OR REPLACE FUNCTION read_plain(p_org int) RETURNS SETOF items LANGUAGE plpgsql AS $$
BEGIN PERFORM f_plain(p_org::text); RETURN QUERY SELECT * FROM items WHERE org_id = p_org; END $$;
CREATE OR REPLACE FUNCTION read_exc(p_org int) RETURNS SETOF items LANGUAGE plpgsql AS $$
BEGIN PERFORM f_exc(p_org::text); RETURN QUERY SELECT * FROM items WHERE org_id = p_org; END $$;
-- per-call time in a loop (one backend, no client round trips): microseconds per call
CREATE OR REPLACE FUNCTION loop_us(p_fn text, p_n int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; i int;
BEGIN
    t0 := clock_timestamp();
    IF p_fn = 'plain' THEN
        FOR i IN 1..p_n LOOP PERFORM f_plain('a'); END LOOP;
    ELSE
        FOR i IN 1..p_n LOOP PERFORM f_exc('a'); END LOOP;
    END IF;
    RETURN round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / p_n)::numeric, 2);
END $$;
