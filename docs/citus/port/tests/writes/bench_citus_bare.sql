SELECT * FROM public.brand_guidelines WHERE org_id = :org;
