-- The single-row select GET /api/v1/members/{id} makes: the ceiling of reads.
\set n random(1, 100000)
SELECT * FROM members WHERE id = md5('member' || :n)::uuid AND deleted_at IS NULL;
