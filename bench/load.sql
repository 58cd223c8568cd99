-- The benchmark's data: 6 districts, 100,000 members, 2,000 workstations and 200,000
-- proposals with their workflow history, written straight to the database (the API's own
-- bulk path is measured separately). Member ids are derived from their number
-- (md5('member' || n)) so that wrk and pgbench can read the same rows. A district's
-- records name only its own members: member n is in district 1 + n % 6.
\set ON_ERROR_STOP on
BEGIN;

INSERT INTO districts (id, code, name, name_en, term)
SELECT md5('district' || d)::uuid, code, name, name_en, 16
FROM (VALUES (1, 'xicheng', '西城区', 'Xicheng'), (2, 'dongcheng', '东城区', 'Dongcheng'),
             (3, 'haidian', '海淀区', 'Haidian'), (4, 'chaoyang', '朝阳区', 'Chaoyang'),
             (5, 'tongzhou', '通州区', 'Tongzhou'), (6, 'yanqing', '延庆区', 'Yanqing'))
     AS d (d, code, name, name_en);

INSERT INTO members (id, district_id, member_no, name, sector, party, street, term)
SELECT md5('member' || n)::uuid,
       md5('district' || (1 + n % 6))::uuid,
       'B-' || lpad(n::text, 6, '0'),
       (ARRAY['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴'])[1 + n % 10]
           || (ARRAY['芳', '明', '丽', '强', '军', '敏', '静', '伟', '磊', '洋', '艳', '勇'])[1 + n % 12]
           || (ARRAY['', '华', '平', '文', '建'])[1 + n % 5],
       (ARRAY['economy', 'medicine_health', 'cpc', 'cdl', 'education', 'science_technology'])[1 + n % 6],
       (ARRAY['cpc', 'rck', 'cdl'])[1 + n % 3],
       (ARRAY['金融街街道', '德胜街道', '月坛街道', '展览路街道'])[1 + n % 4],
       16
FROM generate_series(1, 100000) AS n;

INSERT INTO workstations (id, district_id, name, kind, street, convenor_member_id)
SELECT md5('workstation' || n)::uuid,
       md5('district' || (1 + n % 6))::uuid,
       '委员工作站' || n,
       (ARRAY['sector', 'street', 'community', 'industry'])[1 + n % 4],
       (ARRAY['金融街街道', '德胜街道', '月坛街道', '展览路街道'])[1 + n % 4],
       md5('member' || (6 * n + n % 6))::uuid
FROM generate_series(1, 2000) AS n;

INSERT INTO proposals (id, district_id, kind, title, body, category, lead_member_id, status,
                       number, submitted_at, filed_at, reply_due_on, created_at, updated_at)
SELECT md5('proposal' || n)::uuid,
       md5('district' || (1 + n % 6))::uuid,
       'member',
       (ARRAY['关于', '建议', '加强', '推进', '完善'])[1 + n % 5]
           || (ARRAY['老旧小区', '社区养老', '中小学', '背街小巷', '公共文化', '营商环境',
                     '垃圾分类', '社区医院', '胡同', '历史街区', '地下管网'])[1 + n % 11]
           || (ARRAY['停车', '改造', '服务', '治理', '建设', '保护', '提升'])[1 + n % 7]
           || '的建议',
       repeat('随着城市更新的推进，群众对' ||
              (ARRAY['停车', '养老', '教育', '医疗', '出行', '环境', '文化'])[1 + n % 7] ||
              '问题的关注日益增加。建议有关部门统筹资源，完善机制，切实解决群众急难愁盼问题。', 3),
       (ARRAY['economy', 'urban', 'environment'])[1 + n % 3],
       md5('member' || CASE WHEN m = 0 THEN 99996 ELSE m END)::uuid,
       CASE WHEN n % 10 < 3 THEN 'draft' WHEN n % 10 < 8 THEN 'filed' ELSE 'replied' END,
       CASE WHEN n % 10 < 3 THEN NULL ELSE 'B' || (1 + n % 6) || '-' || n END,
       CASE WHEN n % 10 < 3 THEN NULL ELSE now() - make_interval(mins => 200000 - n) END,
       CASE WHEN n % 10 < 3 THEN NULL ELSE now() - make_interval(mins => 199990 - n) END,
       CASE WHEN n % 10 < 3 THEN NULL ELSE (now() + make_interval(days => n % 90))::date END,
       now() - make_interval(mins => 200000 - n),
       now() - make_interval(mins => 200000 - n)
FROM generate_series(1, 200000) AS n,
     LATERAL (SELECT 6 * ((n * 7) % 16666) + n % 6 AS m) AS lead;

INSERT INTO workflow_steps (id, entity_type, entity_id, action, from_status, to_status,
                            actor_role, occurred_at)
SELECT md5('step' || n || s.action)::uuid, 'proposal', md5('proposal' || n)::uuid,
       s.action, s.from_status, s.to_status, 'admin', now() - make_interval(mins => 200000 - n)
FROM generate_series(1, 200000) AS n
CROSS JOIN (VALUES ('submit', 'draft', 'submitted'), ('file', 'submitted', 'filed'))
     AS s (action, from_status, to_status)
WHERE n % 10 >= 3;

COMMIT;
ANALYZE;
