BEGIN;
SELECT * FROM enclave.page_context(:usr, :org, NULL, :proof);
COMMIT;
