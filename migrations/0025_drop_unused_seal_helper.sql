-- enclave.context_seal_of (0023) lost its last caller before 0023 landed: sealing and the
-- two readers compute the HMAC in their own single statement (one SPI call each, measured
-- faster than calling a shared SQL function, which PostgreSQL 15 re-plans per call). A
-- function nobody calls is one more place for the seal's formula to drift from.
DROP FUNCTION enclave.context_seal_of(text, text, text);
