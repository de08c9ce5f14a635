-- A third SME organization whose shards are on the OTHER worker than the two demo orgs
-- (superuser; for the two-organization checks). nora is its owner; it has one persona.
DO $$
DECLARE v_id uuid; v_demo_port int; v_port int; i int := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM public.organizations WHERE slug = 'third-roasters') THEN RETURN; END IF;
    SELECT nodeport INTO v_demo_port FROM pg_dist_shard_placement
     WHERE shardid = get_shard_id_for_distribution_column('public.memberships',
                         (SELECT id FROM public.organizations WHERE slug = 'northwind-coffee'));
    LOOP
        v_id := gen_random_uuid(); i := i + 1;
        SELECT nodeport INTO v_port FROM pg_dist_shard_placement
         WHERE shardid = get_shard_id_for_distribution_column('public.memberships', v_id);
        EXIT WHEN v_port <> v_demo_port OR i > 1000;
    END LOOP;
    INSERT INTO public.organizations (id, kind, name, slug) VALUES (v_id, 'sme', 'Third Roasters', 'third-roasters');
    INSERT INTO public.memberships (org_id, user_id, role)
         SELECT v_id, id, 'owner' FROM public.users WHERE email = 'nora@northwind.example';
    INSERT INTO public.personas (org_id, persona_id, name)
         VALUES (v_id, gen_random_uuid(), 'Third persona');
    RAISE NOTICE 'third org % on port % (demo orgs on %)', v_id, v_port, v_demo_port;
END $$;
SELECT id AS third FROM public.organizations WHERE slug = 'third-roasters' \gset
