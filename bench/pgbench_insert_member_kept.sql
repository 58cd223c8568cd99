-- What a keyed, audited POST /api/v1/members must write, straight from pgbench: the
-- member INSERT of pgbench_insert_member.sql, its audit event (the pending row, the
-- service's: the event's canonical text, holding the record after the write) and the
-- answer its Idempotency-Key keeps (headers and a body of the service's size), in one
-- transaction sent as one pipeline: one round trip, as the service's second is. The
-- service runs idle beside it, and its sealer chains these events as they come (in its
-- once-a-second rounds): sealing is in the row's database time and CPU, as in the
-- service's rows.
-- (No `:` is followed by a letter or digit inside a literal: pgbench would take it for a
-- variable.) Its rate is what the POST's guarantees alone leave of the INSERT's ceiling.
\set r random(1, 1000000000000000)
\startpipeline
BEGIN;
INSERT INTO "members" ("id", "district_id", "member_no", "name", "gender", "sector", "party",
    "employer_title", "street", "term", "roles", "resides_in_district", "status", "phone", "email")
VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'
         || substr(md5(:client_id::text || '-' || :r::text), 1, 19))::uuid,
        md5('district1')::uuid, 'K-' || :client_id::text || '-' || :r::text, '测试委员', DEFAULT, 'economy',
        'cpc', DEFAULT, DEFAULT, 16, '{member}', true, 'active', DEFAULT, DEFAULT);
INSERT INTO "audit_pending" ("prefixes", "form", "openings")
VALUES (ARRAY['{"action": "create","actor_district_id": null,"actor_key_id": "' || md5('bench-key')::uuid || '","actor_role": "admin","after": {"created_at": "2026-12-01T13h14m46.786843Z","district_id": "' || md5('district1')::uuid || '","email": null,"employer_title": null,"gender": null,"id": "' || md5('member' || :r::text)::uuid || '","member_no": "K-' || :client_id::text || '-' || :r::text || '","name": "测试委员","party": "cpc","phone": null,"resides_in_district": true,"roles": ["member"],"sector": "economy","status": "active","street": null,"term": 16,"updated_at": "2026-12-01T13h14m46.786843Z","version": 1},"before": null,"district_id": "' || md5('district1')::uuid || '","entity_id": "' || md5('member' || :r::text)::uuid || '","entity_type": "member","idempotency_key": "K-' || :client_id::text || '-' || :r::text || '","occurred_at": "' || translate('2026-12-01T13h14m46.786843Z', 'hm', chr(58) || chr(58)) || '","request_id": "' || md5('request' || :r::text) || '","seq": '],
    2, NULL);
INSERT INTO "idempotency_keys" ("api_key_id", "key", "request_hash", "status", "headers", "body",
    "request_bytes", "created_at")
VALUES (md5('bench-key')::uuid, 'K-' || :client_id::text || '-' || :r::text, sha256(convert_to('K' || :r::text, 'UTF8')), 201,
    ('{"content-type": "application/json", "location": "/api/v1/members/' || md5('member' || :r::text)::uuid || '", "etag": "\"1\""}')::jsonb,
    convert_to('{"id": "' || md5('member' || :r::text)::uuid || '","district_id": "' || md5('district1')::uuid || '","member_no": "K-' || :client_id::text || '-' || :r::text || '","name": "测试委员","gender": null,"sector": "economy","party": "cpc","employer_title": null,"street": null,"term": 16,"roles": ["member"],"resides_in_district": true,"status": "active","version": 1,"created_at": "2026-12-01T13h14m46.786843Z","updated_at": "2026-12-01T13h14m46.786843Z"}', 'UTF8'),
    180, now())
ON CONFLICT ("api_key_id", "key") DO NOTHING;
COMMIT;
\endpipeline
