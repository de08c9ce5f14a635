-- Fingerprint of function privileges in schema enclave (run on every node; superuser).
SELECT count(*) AS functions,
       count(*) FILTER (WHERE has_function_privilege('public', p.oid, 'EXECUTE')) AS public_execute,
       count(*) FILTER (WHERE has_function_privilege('enclave_runtime', p.oid, 'EXECUTE')) AS runtime_execute,
       md5(string_agg(p.oid::regprocedure::text || '=' || coalesce(p.proacl::text, 'NULL(default: PUBLIC)'), ';' ORDER BY p.oid::regprocedure::text)) AS acl_md5
  FROM pg_proc p WHERE p.pronamespace = 'enclave'::regnamespace;
