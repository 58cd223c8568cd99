\set n random(1, 100000)
SELECT * FROM members WHERE id = md5('member' || :n)::uuid AND deleted_at IS NULL;
