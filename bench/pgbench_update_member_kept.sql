-- What PATCH /api/v1/members/{id} with If-Match must write, straight from pgbench: the
-- member UPDATE of pgbench_update_member.sql and its audit event (the pending row, the
-- size of the service's: the record before and after as JSON and the event's canonical
-- text), in one transaction sent as one pipeline: one round trip, as the service's
-- second is. The service runs idle beside it, and its sealer chains these events as they
-- come: sealing is in the row's database time and CPU, as in the service's rows. (No `:`
-- is followed by a letter or digit inside a literal: pgbench would take it for a
-- variable.) Its rate is what the PATCH's guarantees alone leave of the UPDATE's ceiling.
\set n random(1, 100000)
\startpipeline
BEGIN;
UPDATE "members" SET "member_no" = 'B-' || lpad(:n::text, 6, '0'),
    "name" = (ARRAY['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴'])[1 + :n % 10]
        || (ARRAY['芳', '明', '丽', '强', '军', '敏', '静', '伟', '磊', '洋', '艳', '勇'])[1 + :n % 12]
        || (ARRAY['', '华', '平', '文', '建'])[1 + :n % 5],
    "gender" = NULL,
    "sector" = (ARRAY['economy', 'medicine_health', 'cpc', 'cdl', 'education', 'science_technology'])[1 + :n % 6],
    "party" = (ARRAY['cpc', 'rck', 'cdl'])[1 + :n % 3],
    "employer_title" = NULL, "street" = '新街口街道', "term" = 16, "roles" = '{member}',
    "resides_in_district" = true, "status" = 'active', "phone" = NULL, "email" = NULL
WHERE (("members"."id" = md5('member' || :n)::uuid) AND ("members"."deleted_at" IS NULL));
INSERT INTO "audit_pending" ("occurred_at", "actor_key_id", "actor_role", "actor_district_id",
    "request_id", "idempotency_key", "actions", "entity_types", "entity_ids", "district_ids",
    "befores", "afters", "prefixes", "form", "openings")
VALUES (now(), md5('bench-key')::uuid, 'admin', NULL, md5('request' || :n::text), NULL,
    '{update}', '{member}', ARRAY[md5('member' || :n::text)], ARRAY[md5('district1')::uuid],
    ARRAY[('{"id": "' || md5('member' || :n::text)::uuid || '", "name": "王芳", "term": 16, "email": null, "party": "cpc", "phone": null, "roles": ["member"], "gender": null, "sector": "economy", "status": "active", "street": "新街口街道", "version": 7, "member_no": "B-' || lpad(:n::text, 6, '0') || '", "created_at": "2026-12-01T13h14m46.786843Z", "updated_at": "2026-12-01T13h14m46.786843Z", "district_id": "' || md5('district1')::uuid || '", "employer_title": null, "resides_in_district": true}')::jsonb],
    ARRAY[('{"id": "' || md5('member' || :n::text)::uuid || '", "name": "王芳", "term": 16, "email": null, "party": "cpc", "phone": null, "roles": ["member"], "gender": null, "sector": "economy", "status": "active", "street": "新街口街道", "version": 7, "member_no": "B-' || lpad(:n::text, 6, '0') || '", "created_at": "2026-12-01T13h14m46.786843Z", "updated_at": "2026-12-01T13h14m46.786843Z", "district_id": "' || md5('district1')::uuid || '", "employer_title": null, "resides_in_district": true}')::jsonb],
    ARRAY['{"action": "update","actor_district_id": null,"actor_key_id": "' || md5('bench-key')::uuid || '","actor_role": "admin","after": {"created_at": "2026-12-01T13h14m46.786843Z","district_id": "' || md5('district1')::uuid || '","email": null,"employer_title": null,"gender": null,"id": "' || md5('member' || :n::text)::uuid || '","member_no": "B-' || lpad(:n::text, 6, '0') || '","name": "王芳","party": "cpc","phone": null,"resides_in_district": true,"roles": ["member"],"sector": "economy","status": "active","street": "新街口街道","term": 16,"updated_at": "2026-12-01T13h14m46.786843Z","version": 7},"before": {"created_at": "2026-12-01T13h14m46.786843Z","district_id": "' || md5('district1')::uuid || '","email": null,"employer_title": null,"gender": null,"id": "' || md5('member' || :n::text)::uuid || '","member_no": "B-' || lpad(:n::text, 6, '0') || '","name": "王芳","party": "cpc","phone": null,"resides_in_district": true,"roles": ["member"],"sector": "economy","status": "active","street": "新街口街道","term": 16,"updated_at": "2026-12-01T13h14m46.786843Z","version": 7},"district_id": "' || md5('district1')::uuid || '","entity_id": "' || md5('member' || :n::text)::uuid || '","entity_type": "member","idempotency_key": null,"occurred_at": "2026-12-01T13h14m46.786843Z","request_id": "' || md5('request' || :n::text) || '","seq": '],
    2, NULL);
COMMIT;
\endpipeline
