SELECT * FROM enclave.w_read_bg_coord(:org, NULL, :usr, :proof);
