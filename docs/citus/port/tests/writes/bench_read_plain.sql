\set org random(1, 100)
SELECT * FROM read_plain(:org);
