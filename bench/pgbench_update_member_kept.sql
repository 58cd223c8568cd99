-- What PATCH /api/v1/members/{id} with If-Match must write, straight from pgbench: the
-- member UPDATE of pgbench_update_member.sql and its audit event (the pending row, the
-- service's: the event's canonical text, holding the record before and after), in one
-- transaction sent as one pipeline: one round trip, as the service's second is. The service runs idle beside it, and its sealer chains these events as they
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
INSERT INTO "audit_pending" ("prefixes", "form", "openings")
VALUES (ARRAY['{"action": "update","actor_district_id": null,"actor_key_id": "' || md5('bench-key')::uuid || '","actor_role": "admin","after": {"created_at": "2026-12-01T13h14m46.786843Z","district_id": "' || md5('district1')::uuid || '","email": null,"employer_title": null,"gender": null,"id": "' || md5('member' || :n::text)::uuid || '","member_no": "B-' || lpad(:n::text, 6, '0') || '","name": "王芳","party": "cpc","phone": null,"resides_in_district": true,"roles": ["member"],"sector": "economy","status": "active","street": "新街口街道","term": 16,"updated_at": "2026-12-01T13h14m46.786843Z","version": 7},"before": {"created_at": "2026-12-01T13h14m46.786843Z","district_id": "' || md5('district1')::uuid || '","email": null,"employer_title": null,"gender": null,"id": "' || md5('member' || :n::text)::uuid || '","member_no": "B-' || lpad(:n::text, 6, '0') || '","name": "王芳","party": "cpc","phone": null,"resides_in_district": true,"roles": ["member"],"sector": "economy","status": "active","street": "新街口街道","term": 16,"updated_at": "2026-12-01T13h14m46.786843Z","version": 7},"district_id": "' || md5('district1')::uuid || '","entity_id": "' || md5('member' || :n::text)::uuid || '","entity_type": "member","idempotency_key": null,"occurred_at": "' || translate('2026-12-01T13h14m46.786843Z', 'hm', chr(58) || chr(58)) || '","request_id": "' || md5('request' || :n::text) || '","seq": '],
    2, NULL);
COMMIT;
\endpipeline
