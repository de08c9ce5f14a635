-- Enclave on Citus: distributes the migrated schema (0001..0029). Idempotent.
--
-- The directory layout (docs/citus/port/directory/REPORT.md: a page's transaction went
-- from 20 to ~500 per second on the test cluster, membership writes became cluster-wide):
-- the directory tables public.memberships, agency.client_workspaces and
-- agency.client_assignments are REFERENCE tables (a copy on every node), and the tenant
-- tables are distributed by org_id colocated with public.invitations. The readers that the
-- policies call (current_member_role, current_workspace_id, is_member_of,
-- shares_current_org, is_assigned_to, require_seat) read the directory tables' local
-- placement, as the context readers read context_key's: no nested distributed query. The
-- trigger that releases campaigns.owner_id fires on every placement of memberships and
-- clears the owner only in the campaigns shard that lives on its own node.
--
-- Run by `enclave migrate` (server/src/ops/citus/mod.rs, statement by statement, as the
-- DATABASE_ADMIN_URL superuser, in the application database) after the migrations, when
-- the citus extension exists in that database with the workers registered
-- (docs/citus/port/add_citus.sh shows the cluster set-up). Also runs as it is in psql:
--     psql -v ON_ERROR_STOP=1 -h COORDINATOR -U postgres -d enclave -f distribute.sql
--
-- What it does, in order:
--   1. context_key becomes a reference table; the sealed context is rebuilt for Citus:
--      binding = Citus distributed transaction id, every context write = SET LOCAL (so it
--      reaches the workers), readers read the key's local shard placement (no nested
--      distributed query on the workers), system path = a sealed setting written by a
--      trigger on enclave.audit_log instead of "an audit row of my xid" (xids differ per node).
--   2. assign_distributed_transaction_id is revoked from PUBLIC on the coordinator.
--   3. Every policy on a table that becomes a Citus table is rewritten to the plain form
--      Citus accepts, generated from pg_policy: `(SELECT enclave.f() AS f)` -> `enclave.f()`,
--      current_workspace_id() -> sealed_workspace_id() (no table read), and the three EXISTS
--      policies -> function calls.
--   4. Readers and trigger functions that must read/write other Citus tables from inside a
--      shard query get `SET citus.allow_nested_distributed_execution = on`.
--   5. Reference tables (global, the directory: memberships, client_workspaces,
--      client_assignments, and the billing facts: org_billing, plan_grants), then
--      distributed tables (org_id, colocated with invitations).
--      Queue, sessions, audit log and platform bookkeeping stay plain local tables on the
--      coordinator.
SET client_min_messages = warning;
SET citus.enable_unsafe_triggers = on;     -- row triggers on distributed/reference tables
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET citus.enable_unsafe_triggers = on', current_database()); END $$;

DO $$ BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'distribute.sql must run as a superuser'; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'CREATE EXTENSION citus first (every node), and register the workers'; END IF;
    IF (SELECT count(*) FROM pg_dist_node WHERE groupid <> 0) = 0 THEN
        RAISE EXCEPTION 'no worker registered in pg_dist_node'; END IF;
END $$;

-- 1. The key ----------------------------------------------------------------------------
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'enclave.context_key'::regclass) THEN
        PERFORM create_reference_table('enclave.context_key');
        PERFORM truncate_local_data_after_distributing_table('enclave.context_key');
    END IF;
END $$;

-- 2. No choosing one's own distributed transaction id (seal replay). Coordinator only:
--    workers need it (the coordinator calls it there as the connecting user).
REVOKE EXECUTE ON FUNCTION pg_catalog.assign_distributed_transaction_id(integer, bigint, timestamptz) FROM PUBLIC;

-- Schema privileges on the workers as on the coordinator. Citus creates a schema on the
-- workers with its grants only when it is the first to create it there; a schema that got
-- there another way (a propagated CREATE SCHEMA IF NOT EXISTS) has none, and the runtime
-- role could not reach the functions the policies call on the shards.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT n.nspname, a.privilege_type, a.grantee::regrole::text AS grantee
               FROM pg_namespace n, aclexplode(n.nspacl) a
              WHERE n.nspname IN ('public', 'agency', 'enclave') AND a.grantee <> 0 LOOP
        PERFORM run_command_on_workers(format('GRANT %s ON SCHEMA %I TO %s', g.privilege_type, g.nspname, g.grantee));
    END LOOP;
END $$;

-- 3. The sealed context for Citus -------------------------------------------------------
-- Binding: identical on the coordinator and on every worker backend of one distributed
-- transaction; NULL before Citus assigned an id (then every seal and check is NULL: closed).
CREATE OR REPLACE FUNCTION enclave.context_binding() RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$ SELECT t.initiator_node_identifier::text || ':' || t.transaction_number::text || ':'
                 || (extract(epoch FROM t.transaction_stamp) * 1000000)::bigint::text
            FROM pg_catalog.get_current_transaction_id() t WHERE t.transaction_number <> 0 $$;

-- A transaction-local setting that reaches the workers: SET LOCAL (not set_config), with
-- propagation switched on for this transaction by the definer itself.
CREATE OR REPLACE FUNCTION enclave.put_setting(p_name text, p_value text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_name NOT IN ('enclave.org_id', 'enclave.user_id', 'enclave.workspace_id',
                          'enclave.context_seal', 'enclave.system_seal', 'enclave.invitation_token') THEN
            RAISE EXCEPTION 'not a context setting: %', p_name;
        END IF;
        SET LOCAL citus.propagate_set_commands = 'local';
        EXECUTE format('SET LOCAL %s = %L', p_name, coalesce(p_value, ''));
    END $$;

CREATE OR REPLACE FUNCTION enclave.put_context(p_org text, p_user text, p_workspace text, p_seal text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        SET LOCAL citus.propagate_set_commands = 'local';
        EXECUTE format('SET LOCAL enclave.org_id = %L', coalesce(p_org, ''));
        EXECUTE format('SET LOCAL enclave.user_id = %L', coalesce(p_user, ''));
        EXECUTE format('SET LOCAL enclave.workspace_id = %L', coalesce(p_workspace, ''));
        EXECUTE format('SET LOCAL enclave.context_seal = %L', coalesce(p_seal, ''));
    END $$;

-- The readers read the key's shard placement on their own node (a plain table: every node
-- holds one, Citus keeps them equal); reading the reference table itself from a policy
-- evaluated on a shard is refused ("cannot execute a distributed query from a query on a shard").
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
            -- A Citus query inside a subtransaction: Citus then coordinates the transaction
            -- and assigns its id, also for a single statement outside BEGIN (without the
            -- block, a single-statement door would fail closed: no id, no seal). Only the
            -- query is in the block: Citus forgets the SET LOCALs of a subtransaction when it
            -- ends, so put_context stays outside. Only while there is no id yet: afterwards
            -- each subtransaction costs a SAVEPOINT on every open worker connection.
            -- (docs/citus/port/WRITES.md, P1.)
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
    CREATE OR REPLACE FUNCTION enclave.current_org_id() RETURNS uuid
        LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
            v_org text := coalesce(current_setting('enclave.org_id', true), '');
        BEGIN
            IF v_org = '' THEN
                RETURN NULL;
            END IF;
            RETURN (SELECT CASE WHEN coalesce(current_setting('enclave.context_seal', true), '')
                                     = encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(v_org || '/'
                                           || coalesce(current_setting('enclave.user_id', true), '') || '/'
                                           || coalesce(current_setting('enclave.workspace_id', true), '') || '/'
                                           || enclave.context_binding(), 'UTF8'))), 'hex')
                                THEN v_org::uuid END
                      FROM %1$s k);
        END $$ $f$, v_shard);

    EXECUTE format($f$
    CREATE OR REPLACE FUNCTION enclave.current_user_id() RETURNS uuid
        LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
            v_user text := coalesce(current_setting('enclave.user_id', true), '');
        BEGIN
            IF v_user = '' THEN
                RETURN NULL;
            END IF;
            RETURN (SELECT CASE WHEN coalesce(current_setting('enclave.context_seal', true), '')
                                     = encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
                                           coalesce(current_setting('enclave.org_id', true), '') || '/' || v_user || '/'
                                           || coalesce(current_setting('enclave.workspace_id', true), '') || '/'
                                           || enclave.context_binding(), 'UTF8'))), 'hex')
                                THEN v_user::uuid END
                      FROM %1$s k);
        END $$ $f$, v_shard);

    -- The system path: a sealed setting (HMAC of 'system/' || binding) written when a
    -- 'system' row enters the audit log, instead of "an audit row with my xid" (each node
    -- has its own xids; the audit log stays on the coordinator).
    EXECUTE format($f$
    CREATE OR REPLACE FUNCTION enclave.seal_system_path() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE v_seal text;
        BEGIN
            IF NEW.path IS DISTINCT FROM 'system' THEN   -- as the trigger's WHEN, if it is ever dropped
                RETURN NULL;
            END IF;
            IF enclave.context_binding() IS NULL THEN   -- as in seal_context
                BEGIN
                    PERFORM 1 FROM enclave.context_key;
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

    EXECUTE format($f$
    CREATE OR REPLACE FUNCTION enclave.system_path_active() RETURNS boolean
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE v_seal text := coalesce(current_setting('enclave.system_seal', true), '');
        BEGIN
            IF v_seal = '' THEN
                RETURN false;
            END IF;
            RETURN coalesce((SELECT v_seal = encode(sha256(k.outer_pad || sha256(k.inner_pad
                                   || convert_to('system/' || enclave.context_binding(), 'UTF8'))), 'hex')
                               FROM %1$s k), false);
        END $$ $f$, v_shard);
END $do$;

DROP TRIGGER IF EXISTS audit_log_seal_system_path ON enclave.audit_log;
CREATE TRIGGER audit_log_seal_system_path AFTER INSERT ON enclave.audit_log
    FOR EACH ROW WHEN (NEW.path = 'system') EXECUTE FUNCTION enclave.seal_system_path();

-- The client workspace of a verified context, without a table read: enter_context checks
-- the workspace (current_workspace_id(), on the coordinator) before it lets a sealed
-- workspace stand, so on the shards the seal is enough.
CREATE OR REPLACE FUNCTION enclave.sealed_workspace_id() RETURNS uuid
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF enclave.current_org_id() IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN NULLIF(current_setting('enclave.workspace_id', true), '')::uuid;
    END $$;

-- The directory readers: the EXISTS subqueries of three policies as functions, and the
-- readers the policies call that read memberships / client_workspaces / client_assignments.
-- Run as the caller (invoker), so the inner read is itself subject to the directory
-- tables' policies, as before. Once those tables are reference tables, each reader reads
-- the table's placement on its own node (a plain local table with the same policies;
-- Citus keeps the copies equal), so a policy evaluated on a shard starts no nested
-- distributed query. Generated twice: here (plain tables on a first run) and after step 6.
CREATE OR REPLACE FUNCTION pg_temp.directory_readers() RETURNS void
    LANGUAGE plpgsql AS $gen$
    DECLARE
        v_m text; v_w text; v_a text;
        v_nested text;
    BEGIN
        SELECT coalesce((SELECT format('%I.%I', n.nspname, c.relname || '_' || s.shardid)
                           FROM pg_dist_partition d JOIN pg_dist_shard s USING (logicalrelid)
                           JOIN pg_class c ON c.oid = d.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE d.logicalrelid = 'public.memberships'::regclass AND d.partmethod = 'n'), 'public.memberships'),
               coalesce((SELECT format('%I.%I', n.nspname, c.relname || '_' || s.shardid)
                           FROM pg_dist_partition d JOIN pg_dist_shard s USING (logicalrelid)
                           JOIN pg_class c ON c.oid = d.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE d.logicalrelid = 'agency.client_workspaces'::regclass AND d.partmethod = 'n'), 'agency.client_workspaces'),
               coalesce((SELECT format('%I.%I', n.nspname, c.relname || '_' || s.shardid)
                           FROM pg_dist_partition d JOIN pg_dist_shard s USING (logicalrelid)
                           JOIN pg_class c ON c.oid = d.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE d.logicalrelid = 'agency.client_assignments'::regclass AND d.partmethod = 'n'), 'agency.client_assignments')
          INTO v_m, v_w, v_a;
        -- Before the tables are reference tables (first run) the logical names, with
        -- nested execution allowed; on their local placement no Citus query at all.
        v_nested := CASE WHEN v_m = 'public.memberships' THEN 'SET citus.allow_nested_distributed_execution = on' ELSE '' END;
        EXECUTE format($f$
        CREATE OR REPLACE FUNCTION enclave.is_member_of(p_org uuid) RETURNS boolean
            LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp %2$s
            AS $$ BEGIN
                RETURN EXISTS (SELECT 1 FROM %1$s m
                                WHERE m.org_id = p_org AND m.user_id = enclave.current_user_id());
            END $$ $f$, v_m, v_nested);
        EXECUTE format($f$
        CREATE OR REPLACE FUNCTION enclave.shares_current_org(p_user uuid) RETURNS boolean
            LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp %2$s
            AS $$ DECLARE v_org uuid := enclave.current_org_id();
            BEGIN
                IF v_org IS NULL THEN RETURN false; END IF;
                RETURN EXISTS (SELECT 1 FROM %1$s m WHERE m.org_id = v_org AND m.user_id = p_user);
            END $$ $f$, v_m, v_nested);
        EXECUTE format($f$
        CREATE OR REPLACE FUNCTION enclave.is_assigned_to(p_org uuid, p_workspace uuid) RETURNS boolean
            LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp %2$s
            AS $$ BEGIN
                RETURN EXISTS (SELECT 1 FROM %1$s a
                                WHERE a.org_id = p_org AND a.workspace_id = p_workspace
                                  AND a.user_id = enclave.current_user_id());
            END $$ $f$, v_a, v_nested);
        EXECUTE format($f$
        CREATE OR REPLACE FUNCTION enclave.current_member_role() RETURNS text
            LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp %2$s
            AS $$
            DECLARE v_org uuid := enclave.current_org_id(); v_user uuid := enclave.current_user_id();
            BEGIN
                IF v_org IS NULL OR v_user IS NULL THEN RETURN NULL; END IF;
                RETURN (SELECT m.role FROM %1$s m WHERE m.org_id = v_org AND m.user_id = v_user);
            END $$ $f$, v_m, v_nested);
        EXECUTE format($f$
        CREATE OR REPLACE FUNCTION enclave.current_workspace_id() RETURNS uuid
            LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp %2$s
            AS $$
            DECLARE v_org uuid := enclave.current_org_id();
                    v_ws uuid := NULLIF(pg_catalog.current_setting('enclave.workspace_id', true), '')::uuid;
            BEGIN
                IF v_org IS NULL OR v_ws IS NULL THEN RETURN NULL; END IF;
                RETURN (SELECT w.workspace_id FROM %1$s w
                         WHERE w.org_id = v_org AND w.workspace_id = v_ws AND w.archived_at IS NULL);
            END $$ $f$, v_w, v_nested);
        -- 0017's seat check, members counted on the local placement; its plan's overrides
        -- (entitlement_overrides) and the pending invitations are distributed tables, hence
        -- nested execution stays allowed.
        EXECUTE format($f$
        CREATE OR REPLACE FUNCTION enclave.require_seat(p_inviting boolean) RETURNS boolean
            LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
            SET citus.allow_nested_distributed_execution = on
            AS $$
            DECLARE
                v_org uuid := enclave.current_org_id();
                v_seats integer;
                v_used bigint;
            BEGIN
                IF v_org IS NULL OR enclave.system_path_active() THEN
                    RETURN true;
                END IF;
                SELECT l.seats INTO v_seats FROM enclave.current_limits() l;
                IF v_seats IS NULL THEN
                    RETURN true;
                END IF;
                PERFORM pg_advisory_xact_lock(7235017, hashtext(v_org::text));
                SELECT (SELECT count(*) FROM %1$s m WHERE m.org_id = v_org)
                     + CASE WHEN p_inviting THEN
                           (SELECT count(*) FROM public.invitations i
                             WHERE i.org_id = v_org AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                               AND i.expires_at > now())
                       ELSE 0 END
                  INTO v_used;
                IF v_used >= v_seats THEN
                    PERFORM enclave.refuse_over_limit(CASE WHEN p_inviting THEN format(
                        'All %%s seats of this organization''s plan are in use (members and pending invitations). An owner can choose a plan with more seats on the Billing page, or withdraw a pending invitation.',
                        v_seats) ELSE format(
                        'This organization''s plan has %%s seats and all are taken, so the invitation cannot be accepted now. Ask its owner to add seats on the Billing page.',
                        v_seats) END);
                END IF;
                RETURN true;
            END $$ $f$, v_m);
    END $gen$;
SELECT pg_temp.directory_readers();
GRANT EXECUTE ON FUNCTION enclave.sealed_workspace_id(), enclave.is_member_of(uuid),
    enclave.shares_current_org(uuid), enclave.is_assigned_to(uuid, uuid) TO enclave_runtime;
REVOKE EXECUTE ON FUNCTION enclave.put_setting(text, text), enclave.seal_system_path() FROM PUBLIC;
-- The new functions belong to the owner, like every other (the audit checks definers' owners).
-- The owner is whoever owns the enclave schema (the role of DATABASE_OWNER_URL).
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['enclave.put_setting(text, text)', 'enclave.seal_system_path()',
                             'enclave.sealed_workspace_id()', 'enclave.is_member_of(uuid)',
                             'enclave.shares_current_org(uuid)', 'enclave.is_assigned_to(uuid, uuid)'] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %s', f,
                       (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'enclave'));
    END LOOP;
END $$;

-- Readers/triggers that read or write another Citus table from inside a shard query.
ALTER FUNCTION enclave.require_writable() SET citus.allow_nested_distributed_execution = on;
ALTER FUNCTION enclave.keep_brand_guideline_version() SET citus.allow_nested_distributed_execution = on;
ALTER FUNCTION enclave.touch_campaign() SET citus.allow_nested_distributed_execution = on;

-- campaigns.owner_id: ON DELETE SET NULL (owner_id) is refused by Citus (see step 6); a
-- trigger on memberships releases the owner instead. memberships is a reference table: the
-- trigger fires on each of its placements (every node, in the backend that changes that
-- placement), and the foreign key from a campaigns shard is checked against the
-- memberships placement on the shard's own node. So each firing clears the owner in the
-- campaigns shard of this organization only if that shard is on its own node, in the
-- shard itself: no nested distributed query, and no second connection to a node whose
-- memberships placement this statement is changing.
-- Like PostgreSQL's own ON DELETE SET NULL (which runs as the referencing table's owner
-- with row level security off), the release must not depend on the remover's context: an
-- agency campaign is visible only in its client workspace's context, and a read-only
-- organization's campaigns refuse updates, so under RLS the UPDATE finds nothing and the
-- foreign key then refuses the removal. Hence SECURITY DEFINER owned by the superuser that
-- runs this recipe (RLS does not apply to it), EXECUTE revoked from PUBLIC (a trigger
-- function cannot be called directly anyway), and the UPDATE bound to OLD's org and user.
CREATE OR REPLACE FUNCTION enclave.release_campaign_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE t regclass; v_shard bigint; v_rel text;
    BEGIN
        FOREACH t IN ARRAY ARRAY['public.campaigns', 'agency.campaigns']::regclass[] LOOP
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition d WHERE d.logicalrelid = t AND d.partmethod = 'h') THEN
                v_shard := pg_catalog.get_shard_id_for_distribution_column(t, OLD.org_id);
                CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement p
                                           WHERE p.shardid = v_shard
                                             AND p.groupid = (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g));
                SELECT format('%I.%I', n.nspname, c.relname || '_' || v_shard) INTO v_rel
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = t;
            ELSE
                v_rel := t::text;   -- before distribution: the plain table
            END IF;
            EXECUTE format('UPDATE %s SET owner_id = NULL WHERE org_id = $1 AND owner_id = $2', v_rel)
              USING OLD.org_id, OLD.user_id;
        END LOOP;
        RETURN OLD;
    END $$;
DO $$ BEGIN EXECUTE format('ALTER FUNCTION enclave.release_campaign_owner() OWNER TO %I', current_user); END $$;
REVOKE EXECUTE ON FUNCTION enclave.release_campaign_owner() FROM PUBLIC;
DROP TRIGGER IF EXISTS memberships_release_campaign_owner ON public.memberships;
CREATE TRIGGER memberships_release_campaign_owner BEFORE DELETE ON public.memberships
    FOR EACH ROW EXECUTE FUNCTION enclave.release_campaign_owner();

-- Every other context write of the definers (set_config never reaches the workers, and a
-- set_config after a propagated SET LOCAL leaves the workers in the earlier context).
DO $$
DECLARE f record; v_def text;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'enclave' AND p.prosrc ~ 'set_config\(''enclave\.'
                AND p.proname NOT IN ('put_context', 'seal_context', 'put_setting') LOOP
        v_def := regexp_replace(pg_get_functiondef(f.oid),
                    '(pg_catalog\.)?set_config\((''enclave\.[a-z_]+''), ([^\n]*), true\)', 'enclave.put_setting(\2, \3)', 'g');
        EXECUTE v_def;
    END LOOP;
END $$;

INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.seal_system_path()', 'system',
     'trigger on enclave.audit_log: a ''system'' row seals the system path for this distributed transaction (Citus)')
ON CONFLICT (function) DO NOTHING;

-- A reader that queries a distributed table, with the organization in a variable: a Citus
-- query on `org_id = enclave.current_org_id()` is not pruned to one shard (function call),
-- so from inside a shard query it fans out to every shard over new connections and breaks
-- ("received copy data after EOF marker"); with a plpgsql variable it is a router query to
-- the colocated shard (local execution on the same node).
-- (current_member_role, current_workspace_id, shares_current_org: the directory readers above.)
CREATE OR REPLACE FUNCTION enclave.require_writable() RETURNS boolean
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    SET citus.allow_nested_distributed_execution = on
    AS $$
    DECLARE v_grace timestamptz; v_org uuid := enclave.current_org_id();
    BEGIN
        IF v_org IS NULL THEN RETURN true; END IF;
        SELECT b.grace_ends_at INTO v_grace FROM public.org_billing b
         WHERE b.org_id = v_org AND b.status = 'past_due';
        IF v_grace IS NOT NULL AND v_grace <= now() THEN
            PERFORM enclave.refuse_over_limit(format(
                'This organization''s payment is overdue and its grace period ended on %s, so Enclave is read-only until it is paid. Nothing was changed. An owner can pay on the Billing page.',
                to_char(v_grace AT TIME ZONE 'UTC', 'FMDD Mon YYYY')));
        END IF;
        RETURN true;
    END $$;

-- 0020's plan limits, with the organization in a variable: `e.org_id = enclave.current_org_id()`
-- made every seat check (require_seat, in the INSERT policies of memberships and invitations)
-- a parallel query on all 32 shards of entitlement_overrides; after a parallel query in a
-- transaction, Citus refuses to modify a reference table that distributed tables reference
-- by foreign key (memberships, client_workspaces): "cannot modify table "memberships"
-- because there was a parallel operation on a distributed table". Now a router query.
CREATE OR REPLACE FUNCTION enclave.current_limits(OUT seats integer, OUT client_workspaces integer,
                                                  OUT outputs_per_period integer, OUT features text[])
    RETURNS record
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE o record; v_org uuid := enclave.current_org_id(); v_plan text := enclave.current_plan();
    BEGIN
        SELECT p.seats, p.client_workspaces, p.outputs_per_period, p.features
          INTO seats, client_workspaces, outputs_per_period, features
          FROM enclave.plans p WHERE p.plan_id = v_plan;
        FOR o IN SELECT e.feature, e.value FROM enclave.entitlement_overrides e
                  WHERE e.org_id = v_org
                    AND (e.expires_at IS NULL OR e.expires_at > now()) LOOP
            CASE o.feature
                WHEN 'seats' THEN seats := o.value;
                WHEN 'client_workspaces' THEN client_workspaces := o.value;
                WHEN 'outputs_per_period' THEN outputs_per_period := o.value;
                WHEN 'external_generator' THEN
                    features := array_remove(features, 'external_generator');
                    IF o.value = 1 THEN
                        features := array_append(features, 'external_generator'::text);
                    END IF;
            END CASE;
        END LOOP;
    END $$;

-- archive_client (0008): Citus refuses `coalesce(archived_at, now())` in an UPDATE of a Citus
-- table ("non-IMMUTABLE functions are not allowed in CASE or COALESCE statements"); the
-- time goes in through a variable (the same transaction time). Rewritten from the catalog,
-- once (the second run finds nothing to change).
DO $$
DECLARE v_def text := pg_get_functiondef('enclave.archive_client(uuid, boolean)'::regprocedure);
BEGIN
    IF v_def ~ 'coalesce\(archived_at, now\(\)\)' THEN
        EXECUTE replace(replace(v_def, 'coalesce(archived_at, now())', 'coalesce(archived_at, v_now)'),
                        'DECLARE v_org uuid', 'DECLARE v_now timestamptz := now(); v_org uuid');
    END IF;
END $$;

-- Citus: "functions used in the DO UPDATE SET clause of INSERTs on distributed tables must be
-- marked IMMUTABLE": `col = now()` -> `col = EXCLUDED.col` inside each DO UPDATE SET (up to
-- its `;`), for the columns whose inserted value is now() in every such INSERT (the column
-- default, or now() in the VALUES list; same transaction time): updated_at (save_*,
-- consume_outputs), synced_at (apply_subscription), granted_at (grant_plan, admin_grant,
-- admin_set_override), last_refreshed_at (save_connection). Generated from the catalog.
-- record_stripe_event and register_vault_key write local tables and are left alone.
DO $$
DECLARE f record; v_def text; v_rest text; v_out text; i int; j int;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'enclave'::regnamespace
              AND p.prosrc ~ 'DO UPDATE'
              AND p.prosrc ~ '(updated_at|synced_at|granted_at|last_refreshed_at) = now\(\)' LOOP
        v_def := pg_get_functiondef(f.oid); v_rest := v_def; v_out := '';
        LOOP
            i := strpos(v_rest, 'DO UPDATE');
            EXIT WHEN i = 0;
            v_out := v_out || left(v_rest, i + 8);
            v_rest := substr(v_rest, i + 9);
            j := strpos(v_rest, ';');
            IF j = 0 THEN j := length(v_rest); END IF;
            v_out := v_out || regexp_replace(left(v_rest, j),
                         '\m(updated_at|synced_at|granted_at|last_refreshed_at) = now\(\)', '\1 = EXCLUDED.\1', 'g');
            v_rest := substr(v_rest, j + 1);
        END LOOP;
        v_out := v_out || v_rest;
        IF v_out <> v_def THEN
            EXECUTE v_out;
        END IF;
    END LOOP;
END $$;

-- 4. Policies in the plain form Citus accepts, for every table that becomes a Citus table.
CREATE TEMP TABLE citus_plan (tbl regclass PRIMARY KEY, how text NOT NULL, ord int NOT NULL);
INSERT INTO citus_plan VALUES
    -- global: reference tables (replicated to every node, the coordinator included)
    ('public.organizations', 'reference', 1), ('public.users', 'reference', 2),
    ('public.user_identities', 'reference', 3), ('enclave.plans', 'reference', 4),
    ('enclave.platform_admins', 'reference', 5), ('enclave.mrr_daily', 'reference', 6),
    -- one row per organization, unique on stripe_customer_id (not org_id): reference
    ('enclave.stripe_customers', 'reference', 7),
    -- the directory: tenant tables, but small, rarely written and read by every policy
    -- and every page: reference tables (read on the node that asks; RLS still applies)
    ('public.memberships', 'reference', 8),
    ('agency.client_workspaces', 'reference', 9), ('agency.client_assignments', 'reference', 10),
    -- the billing facts: one row per billed or granted organization, written by Stripe's
    -- events, reconciliation and platform admins (rarely), read per organization by the
    -- plan readers and across all organizations by the admin console, which needs every
    -- organization with its billing: `organizations LEFT JOIN org_billing` with a
    -- distributed org_billing is either planned with subplans (refused to the runtime
    -- role), crashes the coordinator, or, pushed down, drops every tenant isolated to its
    -- own shard from the result (Citus 13.2.2; docs/citus/upstream/)
    ('public.org_billing', 'reference', 10), ('enclave.plan_grants', 'reference', 10),
    -- tenant tables: distributed by org_id, all colocated with invitations (the anchor, first)
    ('public.invitations', 'distributed', 13), ('public.mail_outbox', 'distributed', 14),
    ('public.usage_counters', 'distributed', 16),
    ('public.usage_daily', 'distributed', 17),
    ('enclave.entitlement_overrides', 'distributed', 19),
    ('public.brand_guidelines', 'distributed', 20), ('agency.brand_guidelines', 'distributed', 21),
    ('public.brand_guideline_versions', 'distributed', 22), ('agency.brand_guideline_versions', 'distributed', 23),
    ('public.personas', 'distributed', 24), ('agency.personas', 'distributed', 25),
    ('public.campaigns', 'distributed', 26), ('agency.campaigns', 'distributed', 27),
    ('public.campaign_outputs', 'distributed', 28), ('agency.campaign_outputs', 'distributed', 29),
    ('public.import_batches', 'distributed', 30), ('agency.import_batches', 'distributed', 31),
    ('public.jobs', 'distributed', 32), ('agency.jobs', 'distributed', 33),
    ('public.connections', 'distributed', 34), ('agency.connections', 'distributed', 35);
-- Tables of the tenant schemas that later migrations add: global ones (declared
-- `enclave:global`) become reference tables, the rest are distributed by org_id, after the
-- ones above (the audit requires both; a new table in another schema needs a line here).
INSERT INTO citus_plan
SELECT c.oid::regclass,
       CASE WHEN coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'enclave:global%' THEN 'reference' ELSE 'distributed' END,
       CASE WHEN coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'enclave:global%' THEN 50 ELSE 100 END
       + row_number() OVER (ORDER BY n.nspname, c.relname)::int
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ('public', 'agency')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ON CONFLICT (tbl) DO NOTHING;
-- Left local on the coordinator (no FK to a Citus table): enclave.audit_log, instance,
-- definer_registry, job_queues, context_proof_keys, vault_keys, stripe_events,
-- billing_reconciliations, billing_findings, _sqlx_migrations; underway.*; tower_sessions.*.

DO $$
DECLARE
    p record; v_qual text; v_check text; v_sub text := '\( SELECT (enclave\.[a-z_]+\([^()]*\)) AS [a-z_]+\)';
    -- The EXISTS of client_workspaces_visible (0006) as deparsed, after v_sub.
    v_assigned text := '\(EXISTS \( SELECT 1\s+FROM agency\.client_assignments a\s+WHERE \(\(a\.org_id = client_workspaces\.org_id\) '
                       'AND \(a\.workspace_id = client_workspaces\.workspace_id\) AND \(a\.user_id = enclave\.current_user_id\(\)\)\)\)\)';
BEGIN
    FOR p IN SELECT pol.polname, pol.polrelid::regclass AS tbl,
                    pg_get_expr(pol.polqual, pol.polrelid) AS qual,
                    pg_get_expr(pol.polwithcheck, pol.polrelid) AS wcheck
               FROM pg_policy pol JOIN citus_plan c ON c.tbl = pol.polrelid LOOP
        v_qual := p.qual; v_check := p.wcheck;
        -- the three EXISTS policies
        IF p.tbl = 'public.organizations'::regclass AND p.polname = 'organizations_member' THEN
            v_qual := 'enclave.is_member_of(id)';
        ELSIF p.tbl = 'public.users'::regclass AND p.polname = 'users_visible' THEN
            v_qual := '(id = enclave.current_user_id()) OR enclave.shares_current_org(id) OR enclave.system_path_active()';
        END IF;
        v_qual := replace(regexp_replace(v_qual, v_sub, '\1', 'g'),
                          'enclave.current_workspace_id()', 'enclave.sealed_workspace_id()');
        v_check := replace(regexp_replace(v_check, v_sub, '\1', 'g'),
                           'enclave.current_workspace_id()', 'enclave.sealed_workspace_id()');
        -- client_workspaces_visible: since 0028 split into _select/_update/_delete (each
        -- with its folded billing/admin conditions), so the EXISTS is replaced where it
        -- stands, whatever follows it.
        IF p.tbl = 'agency.client_workspaces'::regclass THEN
            v_qual := regexp_replace(v_qual, v_assigned, 'enclave.is_assigned_to(org_id, workspace_id)', 'g');
            v_check := regexp_replace(v_check, v_assigned, 'enclave.is_assigned_to(org_id, workspace_id)', 'g');
        END IF;
        IF v_qual IS DISTINCT FROM p.qual OR v_check IS DISTINCT FROM p.wcheck THEN
            IF coalesce(v_qual, '') ~* 'select' OR coalesce(v_check, '') ~* 'select' THEN
                RAISE EXCEPTION 'policy % on % still has a subquery: %', p.polname, p.tbl, v_qual;
            END IF;
            EXECUTE format('ALTER POLICY %I ON %s', p.polname, p.tbl)
                 || CASE WHEN v_qual IS NOT NULL THEN format(' USING (%s)', v_qual) ELSE '' END
                 || CASE WHEN v_check IS NOT NULL THEN format(' WITH CHECK (%s)', v_check) ELSE '' END;
        END IF;
    END LOOP;
END $$;

-- Marks every function of schema enclave not yet in Citus as distributed (steps 5 and 7).
CREATE OR REPLACE FUNCTION pg_temp.distribute_functions() RETURNS void
    LANGUAGE plpgsql AS $gen$
    DECLARE f record;
    BEGIN
        FOR f IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'enclave'
                    AND NOT EXISTS (SELECT 1 FROM pg_dist_object o WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid) LOOP
            BEGIN
                PERFORM create_distributed_function(f.fn);
            EXCEPTION WHEN others THEN   -- refused on the coordinator: depends on a relation not in Citus yet
                RAISE NOTICE 'not yet: % (%)', f.fn, SQLERRM;
            END;
        END LOOP;
    END $gen$;

-- 5. Every function of schema enclave on every node (policies, triggers, readers) before any table
--    becomes a Citus table (making organizations a reference table converts every local
--    table of its foreign-key graph to a Citus local table, policies included), and
--    marked distributed so a later CREATE OR REPLACE propagates.
BEGIN;
-- SQL-language bodies name tables a worker does not have yet (or never: the audit log);
-- the propagated SET LOCAL keeps the workers from checking them.
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL check_function_bodies = off;
SELECT pg_temp.distribute_functions();
COMMIT;

-- A table an earlier recipe distributed that is now planned as a reference table
-- (org_billing and plan_grants, 2026-11-27): back to a plain table, then a reference
-- table. undistribute_table re-creates the table (a new oid, so the plan is pointed at
-- it again) and keeps policies, grants and indexes but not the foreign keys (dropped
-- first, added back) nor the comment (the audit reads it).
DO $$
DECLARE t record; f record; v_name text; v_comment text;
BEGIN
    FOR t IN SELECT c.tbl FROM citus_plan c JOIN pg_dist_partition d ON d.logicalrelid = c.tbl
              WHERE c.how = 'reference' AND d.partmethod = 'h' LOOP
        v_name := t.tbl::text;
        v_comment := obj_description(t.tbl, 'pg_class');
        CREATE TEMP TABLE IF NOT EXISTS citus_converted_fks (tbl text, conname name, def text);
        INSERT INTO citus_converted_fks
            SELECT v_name, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k
             WHERE k.contype = 'f' AND k.conrelid = t.tbl;
        FOR f IN SELECT * FROM citus_converted_fks WHERE tbl = v_name LOOP
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', v_name, f.conname);
        END LOOP;
        PERFORM undistribute_table(t.tbl);
        UPDATE citus_plan SET tbl = to_regclass(v_name) WHERE tbl::oid = t.tbl::oid;
        PERFORM create_reference_table(v_name::regclass);
        FOR f IN SELECT * FROM citus_converted_fks WHERE tbl = v_name LOOP
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', v_name, f.conname, f.def);
        END LOOP;
        IF v_comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON TABLE %s IS %L', v_name, v_comment);
        END IF;
        RAISE NOTICE 'converted % from a distributed to a reference table', v_name;
    END LOOP;
END $$;

-- 6. Distribute, in one transaction. The foreign keys between these tables are dropped
--    first and added back after: a reference table with foreign keys from local tables makes
--    Citus convert the whole foreign-key graph to Citus local tables, which drops and
--    re-creates the views, and fails on the functions that return them
--    ("cannot drop view brand_guidelines_unified because other objects depend on it").
BEGIN;
SET LOCAL citus.multi_shard_modify_mode = 'sequential';   -- FKs to reference tables in the same transaction
CREATE TEMP TABLE citus_fks ON COMMIT DROP AS
    SELECT c.conrelid::regclass AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
      FROM pg_constraint c
     WHERE c.contype = 'f' AND c.conrelid IN (SELECT tbl FROM citus_plan) AND c.confrelid IN (SELECT tbl FROM citus_plan)
       AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.conrelid);
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT * FROM citus_fks LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t.tbl, t.conname);
    END LOOP;
    -- Row triggers would fire on the shards while Citus copies the rows in (a second
    -- version row per guideline, campaigns touched); off while copying.
    FOR t IN SELECT DISTINCT c.tbl FROM citus_plan c JOIN pg_trigger g ON g.tgrelid = c.tbl AND NOT g.tgisinternal
              WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.tbl) LOOP
        EXECUTE format('ALTER TABLE %s DISABLE TRIGGER USER', t.tbl);
    END LOOP;
    FOR t IN SELECT * FROM citus_plan ORDER BY ord LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = t.tbl);
        IF t.how = 'reference' THEN
            PERFORM create_reference_table(t.tbl);
        ELSIF t.tbl = 'public.invitations'::regclass THEN
            PERFORM create_distributed_table(t.tbl, 'org_id', colocate_with => 'none');
        ELSE
            PERFORM create_distributed_table(t.tbl, 'org_id', colocate_with => 'public.invitations');
        END IF;
    END LOOP;
    FOR t IN SELECT * FROM citus_fks LOOP
        -- Citus refuses ON DELETE SET NULL (col) when the key includes the distribution
        -- column (also toward a reference table); campaigns.owner_id is released by a
        -- trigger on memberships instead (above).
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', t.tbl, t.conname,
                       replace(t.def, ' ON DELETE SET NULL (owner_id)', ''));
    END LOOP;
    FOR t IN SELECT DISTINCT c.tbl FROM citus_plan c JOIN pg_trigger g ON g.tgrelid = c.tbl
              AND NOT g.tgisinternal AND g.tgenabled = 'D' LOOP
        EXECUTE format('ALTER TABLE %s ENABLE TRIGGER USER', t.tbl);
    END LOOP;
END $$;
COMMIT;
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT * FROM citus_plan LOOP
        PERFORM truncate_local_data_after_distributing_table(t.tbl);
    END LOOP;
END $$;

-- The directory readers again, now on the reference tables' local placements.
SELECT pg_temp.directory_readers();

-- 7. Second pass: the functions whose types are Citus tables or views now; what is still
--    refused depends on a table that stays local on the coordinator (never runs on a worker).
SET client_min_messages = notice;
BEGIN;
-- SQL-language bodies name tables a worker does not have yet (or never: the audit log);
-- the propagated SET LOCAL keeps the workers from checking them.
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL check_function_bodies = off;
SELECT pg_temp.distribute_functions();
COMMIT;

SET client_min_messages = warning;

SELECT logicalrelid, CASE partmethod WHEN 'n' THEN 'reference' WHEN 'h' THEN 'distributed' END AS how,
       colocationid FROM pg_dist_partition ORDER BY 2, 1::text;

-- 7a. SQL-language functions that read Citus tables, as PL/pgSQL. Citus refuses a
--     parameterized query from inside a SQL function that references a distributed table
--     ("parameterized queries for SQL functions referencing distributed tables are not
--     supported"; met by the Rust suites: resolve_context -> describe_context). The same
--     SELECT, now RETURN QUERY; `#variable_conflict use_column` keeps the column names of
--     RETURNS TABLE from shadowing the tables' columns. Set-returning functions only (the
--     scalar SQL functions read settings or local tables).
DO $$
DECLARE
    f record;
    v_body text;
BEGIN
    FOR f IN SELECT p.oid, p.prosrc, pg_get_functiondef(p.oid) AS def FROM pg_proc p
              WHERE p.pronamespace = 'enclave'::regnamespace AND p.proretset
                AND p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'sql')
                AND EXISTS (SELECT 1 FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
                             JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE strpos(p.prosrc, n.nspname || '.' || c.relname) > 0) LOOP
        v_body := E'\n#variable_conflict use_column\nBEGIN\n    RETURN QUERY '
                  || rtrim(btrim(f.prosrc, E' \n\t'), ';') || E';\nEND\n';
        EXECUTE replace(replace(f.def, E'\n LANGUAGE sql\n', E'\n LANGUAGE plpgsql\n'), f.prosrc, v_body);
    END LOOP;
END $$;

-- 7b. The write identity (docs/citus/port/WRITES.md, P2). Citus refuses, in one
--     transaction, a query on a shard placement that another database user modified: the
--     routers write as the owner (SECURITY DEFINER), so after a router's write everything
--     that touches that tenant's shards must run as the owner too. The enqueue that follows
--     a write (a tenant job started with its cause) reads memberships and client workspaces
--     from the queue's trigger and policy: the trigger runs as the owner (it only stamps the
--     verified context; trigger functions need no EXECUTE grant), and the policy takes the
--     client workspace from the verified seal (enter_context checked it), with no table read.
ALTER FUNCTION enclave.stamp_job_task() SECURITY DEFINER;
REVOKE EXECUTE ON FUNCTION enclave.stamp_job_task() FROM PUBLIC;
DO $$
DECLARE
    v_qual text;
    v_check text;
BEGIN
    SELECT replace(pg_get_expr(polqual, polrelid), 'enclave.current_workspace_id()', 'enclave.sealed_workspace_id()'),
           replace(pg_get_expr(polwithcheck, polrelid), 'enclave.current_workspace_id()', 'enclave.sealed_workspace_id()')
      INTO v_qual, v_check FROM pg_policy WHERE polrelid = 'underway.task'::regclass AND polname = 'task_scope';
    EXECUTE format('ALTER POLICY task_scope ON underway.task USING (%s) WITH CHECK (%s)', v_qual, v_check);
END $$;

-- 8. Function and view privileges on the workers as on the coordinator. Citus creates a
--    distributed function on the workers with the default privileges (EXECUTE for PUBLIC),
--    and the coordinator does not check EXECUTE for a function inside a pushed-down query:
--    an owner-only function ran on a worker as the runtime role (docs/citus/port/WRITES.md,
--    item 4). A REVOKE or GRANT issued on the coordinator propagates (run_command_on_workers
--    is refused for it, and ALTER DEFAULT PRIVILEGES is not propagated), so they are issued
--    again here, on every migrate: a worker added later gets them at the next migrate.
DO $$
DECLARE
    f record;
    g record;
BEGIN
    FOR f IN SELECT p.oid, p.oid::regprocedure AS fn, p.proacl FROM pg_proc p
               JOIN pg_dist_object o ON o.classid = 'pg_proc'::regclass AND o.objid = p.oid
              WHERE p.pronamespace = 'enclave'::regnamespace LOOP
        IF NOT has_function_privilege('public', f.oid, 'EXECUTE') THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
        END IF;
        FOR g IN SELECT DISTINCT a.grantee::regrole AS grantee FROM aclexplode(f.proacl) a
                  WHERE a.grantee <> 0 AND a.privilege_type = 'EXECUTE' LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.fn, g.grantee);
        END LOOP;
    END LOOP;
    FOR f IN SELECT c.oid::regclass AS rel, c.relacl FROM pg_class c
               JOIN pg_dist_object o ON o.classid = 'pg_class'::regclass AND o.objid = c.oid
              WHERE c.relkind = 'v' AND c.relnamespace IN ('public'::regnamespace, 'agency'::regnamespace, 'enclave'::regnamespace) LOOP
        FOR g IN SELECT DISTINCT a.grantee::regrole AS grantee, a.privilege_type FROM aclexplode(f.relacl) a
                  WHERE a.grantee <> 0 LOOP
            EXECUTE format('GRANT %s ON %s TO %s', g.privilege_type, f.rel, g.grantee);
        END LOOP;
    END LOOP;
END $$;
