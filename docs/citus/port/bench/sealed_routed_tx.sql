BEGIN;
SELECT * FROM enclave.read_brand_guidelines_routed(:org, NULL, :usr, :proof);
COMMIT;
