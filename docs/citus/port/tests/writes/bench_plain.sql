\set n random(1, 100)
SELECT f_plain(:n::text);
