-- The INSERT that POST /api/v1/members makes (same table, columns, indexes and triggers),
-- alone in its transaction: the database's ceiling for creating a member.
-- Ids are time-ordered as the service's UUIDv7 are; member numbers are new per insert.
\set r random(1, 1000000000000000)
INSERT INTO "members" ("id", "district_id", "member_no", "name", "gender", "sector", "party",
    "employer_title", "street", "term", "roles", "resides_in_district", "status", "phone", "email")
VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'
         || substr(md5(:client_id || '-' || :r), 1, 19))::uuid,
        md5('district1')::uuid, 'G-' || :client_id || '-' || :r, '测试委员', DEFAULT, 'economy',
        'cpc', DEFAULT, DEFAULT, 16, '{member}', true, 'active', DEFAULT, DEFAULT);
