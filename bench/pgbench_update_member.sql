-- The UPDATE that PATCH /api/v1/members/{id} makes (every field set, as the service sets
-- them, on the live row; the street changed), alone in its transaction: the database's ceiling for changing
-- a member. The values are the loaded member's own (bench/load.sql).
\set n random(1, 100000)
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
