-- The benchmark's data: 6 districts, 100,000 members, 2,000 workstations and 200,000
-- proposals with their workflow history, written straight to the database (the API's own
-- bulk path is measured separately). Member ids are derived from their number
-- (md5('member' || n)) so that wrk and pgbench can read the same rows. A district's
-- records name only its own members: member n is in district 1 + n % 6. A seventh district
-- holds the duty-performance data: 1,000 members with a year of records each.
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

-- Duty performance: district 7, 1,000 members (md5('pmember' || n)) and this (Beijing)
-- year's records: 3,000 proposals led (half filed) with 6,000 co-signatures, 50
-- workstations with 2,400 activities of 10 members, 10 consultation topics with 60
-- activities of 100 members, 60 meetings attended by 500 members each (some excused or
-- absent), 10 evaluations with 10 evaluators rating 4 criteria: about 70 items a member.
CREATE TEMP TABLE bench_year AS
SELECT (date_trunc('year', now() AT TIME ZONE 'Asia/Shanghai'))::date AS first_day,
       extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int AS year;

INSERT INTO districts (id, code, name, name_en, term)
VALUES (md5('district7')::uuid, 'huairou', '怀柔区', 'Huairou', 16);

INSERT INTO members (id, district_id, member_no, name, sector, party, street, term)
SELECT md5('pmember' || n)::uuid, md5('district7')::uuid, 'P-' || lpad(n::text, 4, '0'),
       (ARRAY['王', '李', '张', '刘', '陈'])[1 + n % 5] || (ARRAY['芳', '明', '丽', '强'])[1 + n % 4],
       (ARRAY['economy', 'medicine_health', 'cpc', 'cdl', 'education'])[1 + n % 5],
       (ARRAY['cpc', 'rck', 'cdl'])[1 + n % 3],
       (ARRAY['泉河街道', '龙山街道', '怀柔镇', '雁栖镇'])[1 + n % 4],
       16
FROM generate_series(1, 1000) AS n;

INSERT INTO proposals (id, district_id, kind, title, body, category, lead_member_id, status,
                       number, submitted_at, filed_at)
SELECT md5('pproposal' || n)::uuid, md5('district7')::uuid, 'joint',
       '关于生态涵养区建设的建议' || n, '建议完善生态补偿机制。', 'environment',
       md5('pmember' || (1 + n % 1000))::uuid,
       CASE WHEN n % 2 = 0 THEN 'filed' ELSE 'submitted' END,
       CASE WHEN n % 2 = 0 THEN 'H-' || n END,
       ((y.first_day + n % 300) + time '10:00') AT TIME ZONE 'Asia/Shanghai',
       CASE WHEN n % 2 = 0 THEN ((y.first_day + n % 300 + 2) + time '10:00') AT TIME ZONE 'Asia/Shanghai' END
FROM generate_series(1, 3000) AS n, bench_year AS y;

INSERT INTO proposal_cosigners (proposal_id, member_id, district_id)
SELECT md5('pproposal' || n)::uuid, md5('pmember' || (1 + (n + 17 * k) % 1000))::uuid,
       md5('district7')::uuid
FROM generate_series(1, 3000) AS n, generate_series(1, 2) AS k;

INSERT INTO workstations (id, district_id, name, kind, street)
SELECT md5('pworkstation' || n)::uuid, md5('district7')::uuid, '怀柔委员工作站' || n, 'street',
       '泉河街道'
FROM generate_series(1, 50) AS n;

INSERT INTO activities (id, district_id, workstation_id, kind, title, held_on, participant_ids)
SELECT md5('pactivity' || a)::uuid, md5('district7')::uuid,
       md5('pworkstation' || (1 + a % 50))::uuid, 'visit', '委员走访' || a,
       y.first_day + a % 300,
       ARRAY(SELECT md5('pmember' || (1 + (a * 7 + k * 101) % 1000))::uuid
             FROM generate_series(0, 9) AS k)
FROM generate_series(1, 2400) AS a, bench_year AS y;

INSERT INTO consultations (id, district_id, year, title, status)
SELECT md5('pconsultation' || c)::uuid, md5('district7')::uuid, y.year, '协商议题' || c,
       'in_progress'
FROM generate_series(1, 10) AS c, bench_year AS y;

INSERT INTO consultation_activities (id, district_id, consultation_id, format, held_on,
                                     participant_ids)
SELECT md5('pconsultation_activity' || a)::uuid, md5('district7')::uuid,
       md5('pconsultation' || (1 + a % 10))::uuid, 'thematic_meeting', y.first_day + a * 4,
       ARRAY(SELECT md5('pmember' || (1 + (a * 13 + k * 10) % 1000))::uuid
             FROM generate_series(0, 99) AS k)
FROM generate_series(1, 60) AS a, bench_year AS y;

INSERT INTO meetings (id, district_id, kind, title, held_on)
SELECT md5('pmeeting' || m)::uuid, md5('district7')::uuid,
       (ARRAY['standing_committee', 'chairs', 'party_group', 'special_committee', 'lecture',
              'study'])[1 + m % 6],
       '会议' || m, y.first_day + m * 5
FROM generate_series(1, 60) AS m, bench_year AS y;

INSERT INTO meeting_attendance (meeting_id, member_id, district_id, status)
SELECT md5('pmeeting' || m)::uuid, md5('pmember' || n)::uuid, md5('district7')::uuid,
       CASE (n * 31 + m * 17) % 25 WHEN 0 THEN 'absent' WHEN 1 THEN 'excused'
            WHEN 2 THEN 'excused' ELSE 'present' END
FROM generate_series(1, 60) AS m, generate_series(1, 1000) AS n
WHERE (n + m) % 2 = 0;

INSERT INTO departments (id, district_id, name, kind)
SELECT md5('pdepartment' || e)::uuid, md5('district7')::uuid, '怀柔区单位' || e, 'government'
FROM generate_series(1, 10) AS e;

INSERT INTO evaluations (id, district_id, department_id, year, phase)
SELECT md5('pevaluation' || e)::uuid, md5('district7')::uuid, md5('pdepartment' || e)::uuid,
       y.year, 'deliberation'
FROM generate_series(1, 10) AS e, bench_year AS y;

INSERT INTO evaluation_evaluators (evaluation_id, member_id, district_id, training_completed_at)
SELECT md5('pevaluation' || e)::uuid, md5('pmember' || (1 + (e * 10 + k) % 1000))::uuid,
       md5('district7')::uuid, now()
FROM generate_series(1, 10) AS e, generate_series(0, 9) AS k;

INSERT INTO evaluation_ratings (evaluation_id, member_id, criterion, district_id, rating)
SELECT ee.evaluation_id, ee.member_id, c.criterion, ee.district_id, 'satisfied'
FROM evaluation_evaluators ee
CROSS JOIN (VALUES ('performance_of_duties'), ('work_style'), ('service_efficiency'),
                   ('integrity')) AS c (criterion)
WHERE ee.district_id = md5('district7')::uuid;

COMMIT;
ANALYZE;

-- Snapshot memory: district 8 holds 100,000 members (md5('smember' || n)), read whole by
-- /sync/snapshot ten times at once.
INSERT INTO districts (id, code, name, name_en, term)
VALUES (md5('district8')::uuid, 'miyun', '密云区', 'Miyun', 16);

INSERT INTO members (id, district_id, member_no, name, sector, party, street, term)
SELECT md5('smember' || n)::uuid, md5('district8')::uuid, 'S-' || lpad(n::text, 6, '0'),
       (ARRAY['王', '李', '张', '刘', '陈'])[1 + n % 5] || (ARRAY['芳', '明', '丽', '强'])[1 + n % 4],
       (ARRAY['economy', 'medicine_health', 'cpc', 'cdl', 'education'])[1 + n % 5],
       (ARRAY['cpc', 'rck', 'cdl'])[1 + n % 3],
       (ARRAY['鼓楼街道', '果园街道', '溪翁庄镇', '穆家峪镇'])[1 + n % 4],
       16
FROM generate_series(1, 100000) AS n;

-- The audit trail: 1,000,000 events for verify to walk, written as 1,000 writes of 1,000
-- events each (an update of a district-1 member, the record as the API shows it) and
-- chained by the sealer's own function, so every hash is the one the service computes.
-- The canonical prefix is the form README's "Verifying the trail on your own" gives.
INSERT INTO audit_pending (occurred_at, request_id, actions, entity_types, entity_ids,
    district_ids, befores, afters, prefixes, form)
SELECT w.at, 'bench:load', array_agg('update'::text ORDER BY e.k), array_agg('member'::text ORDER BY e.k),
       array_agg(e.member::text ORDER BY e.k), array_agg(md5('district1')::uuid ORDER BY e.k),
       array_agg(NULL::jsonb ORDER BY e.k),
       array_agg(jsonb_build_object('district_id', md5('district1')::uuid, 'id', e.member,
           'member_no', e.member_no, 'name', '王芳', 'sector', 'economy', 'version', e.version)
           ORDER BY e.k),
       array_agg(format('{"action":"update","actor_district_id":null,"actor_key_id":null,'
           '"actor_role":null,"after":{"district_id":"%s","id":"%s","member_no":"%s",'
           '"name":"王芳","sector":"economy","version":%s},"before":null,"district_id":"%s",'
           '"entity_id":"%s","entity_type":"member","idempotency_key":null,'
           '"occurred_at":"%s","request_id":"bench:load","seq":',
           md5('district1')::uuid, e.member, e.member_no, e.version, md5('district1')::uuid,
           e.member, to_char(w.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           ORDER BY e.k),
       2
FROM (SELECT n, date_trunc('milliseconds', now()) - (1000 - n) * interval '1 minute' AS at
      FROM generate_series(1, 1000) AS n) AS w
CROSS JOIN LATERAL (
    SELECT k, md5('member' || (1 + (w.n * 1000 + k) % 100000))::uuid AS member,
           'M-' || lpad((1 + (w.n * 1000 + k) % 100000)::text, 6, '0') AS member_no,
           1 + (w.n * 1000 + k) / 100000 AS version
    FROM generate_series(0, 999) AS k) AS e
GROUP BY w.n, w.at
ORDER BY w.n;

DO $$
BEGIN
    LOOP
        EXIT WHEN (SELECT writes FROM audit_seal(500, 5000)) = 0;
    END LOOP;
END
$$;
