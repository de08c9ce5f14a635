-- Reproduces docs/citus/upstream/isolated-tenant-outer-join.md: a reference table LEFT JOIN
-- a distributed table on its distribution column, pushed down to the shards, loses the
-- reference rows whose hash is a shard's minimum value, e.g. every tenant isolated to a
-- shard of its own. Run as a superuser on a coordinator with workers, in a scratch database.
CREATE TABLE orgs (id bigint PRIMARY KEY, name text);
CREATE TABLE billing (org_id bigint PRIMARY KEY, status text);
SELECT create_reference_table('orgs');
SELECT create_distributed_table('billing', 'org_id');
INSERT INTO orgs SELECT n, 'org ' || n FROM generate_series(1, 10) n;
INSERT INTO billing VALUES (1, 'active'), (2, 'active');
SELECT o.id, b.status FROM orgs o LEFT JOIN billing b ON b.org_id = o.id ORDER BY 1;  -- 10 rows
SELECT isolate_tenant_to_new_shard('billing', 7, shard_transfer_mode => 'block_writes');
SELECT o.id, b.status FROM orgs o LEFT JOIN billing b ON b.org_id = o.id ORDER BY 1;  -- 10 expected; 9 on 13.2.2, org 7 missing
EXPLAIN (VERBOSE, COSTS OFF) SELECT o.id, b.status FROM orgs o LEFT JOIN billing b ON b.org_id = o.id;
