BEGIN;
SELECT * FROM enclave.read_brand_guidelines(:org, NULL, :usr, :proof);
COMMIT;
