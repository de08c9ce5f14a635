\set n random(1, 100)
SELECT f_exc(:n::text);
