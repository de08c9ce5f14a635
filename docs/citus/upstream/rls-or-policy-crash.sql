-- Reproduces docs/citus/upstream/rls-or-policy-crash.md on a Citus coordinator with workers.
-- Run as a superuser in a scratch database, then the last statement as `app`:
--   psql -h HOST -p PORT -U postgres -d scratch -f rls-or-policy-crash.sql
--   psql -h HOST -p PORT -U app -d scratch -c "SELECT count(*) FROM plans p LEFT JOIN billing b ON b.plan_id = p.plan_id"
-- A fixed Citus answers 2 (or refuses the query); an affected one restarts the coordinator.
DO $$ BEGIN CREATE ROLE app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE plans (plan_id text PRIMARY KEY, name text);
CREATE TABLE billing (org_id uuid PRIMARY KEY, plan_id text REFERENCES plans, status text);
ALTER TABLE billing ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON billing USING (org_id IS NULL OR status = 'x');
SELECT create_reference_table('plans');
SELECT create_distributed_table('billing', 'org_id');
INSERT INTO plans VALUES ('free', 'Free'), ('pro', 'Pro');
INSERT INTO billing VALUES (gen_random_uuid(), 'pro', 'active');
GRANT SELECT ON plans, billing TO app;
