-- The committee's own work records (meetings with attendance, reports to the district
-- party committee, yearly key tasks) and members' duty performance: scoring rules as
-- immutable published versions, and the items that count, defined once, in SQL.

CREATE TABLE meetings (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    kind text NOT NULL CHECK (kind IN ('plenary', 'standing_committee', 'chairs',
        'party_group', 'special_committee', 'lecture', 'study', 'other')),
    title text NOT NULL,
    held_on date NOT NULL,
    place text,
    agenda text,
    -- The district system's id, for meetings it syncs (with their attendance).
    external_id text CHECK (external_id ~ '^[A-Za-z0-9._/:-]{1,64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX meetings_external_id_key ON meetings (district_id, external_id)
    WHERE deleted_at IS NULL AND external_id IS NOT NULL;
CREATE INDEX meetings_district_idx ON meetings (district_id, held_on, id);
CREATE INDEX meetings_feed_idx ON meetings (updated_at, id);
CREATE TRIGGER meetings_touch BEFORE UPDATE ON meetings
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- Who attended a meeting: members of the meeting's district (checked by the service).
CREATE TABLE meeting_attendance (
    meeting_id uuid NOT NULL REFERENCES meetings (id),
    member_id uuid NOT NULL REFERENCES members (id),
    district_id uuid NOT NULL REFERENCES districts (id),
    status text NOT NULL CHECK (status IN ('present', 'excused', 'absent')),
    note text,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meeting_id, member_id)
);
CREATE INDEX meeting_attendance_member_idx ON meeting_attendance (member_id);

-- Reports to the district party committee (向区委报告).
CREATE TABLE reports (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    kind text NOT NULL CHECK (kind IN ('work_report', 'consultation_report',
        'evaluation_report', 'other')),
    reported_on date NOT NULL,
    subject text NOT NULL,
    summary text,
    consultation_id uuid REFERENCES consultations (id),
    evaluation_id uuid REFERENCES evaluations (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    CONSTRAINT reports_link_check CHECK (
        (consultation_id IS NULL OR kind = 'consultation_report')
        AND (evaluation_id IS NULL OR kind = 'evaluation_report'))
);
CREATE INDEX reports_district_idx ON reports (district_id, reported_on, id);
CREATE INDEX reports_feed_idx ON reports (updated_at, id);
CREATE INDEX reports_consultation_idx ON reports (consultation_id);
CREATE INDEX reports_evaluation_idx ON reports (evaluation_id);
CREATE TRIGGER reports_touch BEFORE UPDATE ON reports
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- A district's yearly key tasks (重点工作), with dated progress notes.
CREATE TABLE key_tasks (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    title text NOT NULL,
    responsible_body text NOT NULL,
    status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'in_progress', 'done')),
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX key_tasks_title_key ON key_tasks (district_id, year, title)
    WHERE deleted_at IS NULL;
CREATE INDEX key_tasks_district_idx ON key_tasks (district_id, year, id);
CREATE INDEX key_tasks_feed_idx ON key_tasks (updated_at, id);
CREATE TRIGGER key_tasks_touch BEFORE UPDATE ON key_tasks
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE key_task_notes (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    key_task_id uuid NOT NULL REFERENCES key_tasks (id),
    noted_on date NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_task_notes_task_idx ON key_task_notes (key_task_id, noted_on, id);

-- The change feed carries the three new collections.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['meetings', 'reports', 'key_tasks']
    LOOP
        EXECUTE format('ALTER TABLE %I
            ADD COLUMN change_txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
            ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval(''change_seq'')', name);
        EXECUTE format('CREATE INDEX %I ON %I (change_txid, change_seq)',
            name || '_change_idx', name);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %I
            FOR EACH ROW EXECUTE FUNCTION stamp_change()', name || '_stamp', name);
    END LOOP;
END
$$;

-- Scoring rules: each version is published once and never changed or removed, so a
-- score computed under it can always be computed again. `points` gives every merit
-- kind its points, `penalties` every penalty kind the points it takes away. A district
-- may have rules of its own, which then come before the common ones.
CREATE TABLE scoring_rules (
    version integer PRIMARY KEY CHECK (version > 0),
    -- A district's own rules; NULL: the rules of every district that has none of its own.
    district_id uuid REFERENCES districts (id),
    from_year integer NOT NULL CHECK (from_year BETWEEN 2000 AND 2100),
    points jsonb NOT NULL CHECK (jsonb_typeof(points) = 'object'),
    penalties jsonb NOT NULL CHECK (jsonb_typeof(penalties) = 'object'),
    competent_line integer NOT NULL CHECK (competent_line >= 0),
    excellent_line integer NOT NULL,
    note text,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by uuid REFERENCES api_keys (id),
    CONSTRAINT scoring_rules_bands_check CHECK (excellent_line > competent_line)
);

CREATE FUNCTION scoring_rules_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scoring rules are published once and never changed or removed'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER scoring_rules_immutable BEFORE UPDATE OR DELETE ON scoring_rules
    FOR EACH ROW EXECUTE FUNCTION scoring_rules_immutable();
CREATE TRIGGER scoring_rules_no_truncate BEFORE TRUNCATE ON scoring_rules
    FOR EACH STATEMENT EXECUTE FUNCTION scoring_rules_immutable();

-- The first version, common to every district, in force from 2000 on until an
-- administrator publishes another.
INSERT INTO scoring_rules (version, from_year, points, penalties, competent_line,
    excellent_line, note)
VALUES (1, 2000,
    '{"proposal_led": 10, "proposal_filed": 5, "proposal_cosigned": 3,
      "consultation_activity": 5, "workstation_activity": 3, "meeting_present": 4,
      "meeting_excused": 0, "evaluation_served": 8, "ratings_given": 2}',
    '{"meeting_absent": 5}',
    60, 90, 'The default rules, published with the service.');

-- Every item that counts for a member's duty performance in a district and a Beijing
-- calendar year, with the record it comes from (and that record's parent, for a
-- consultation activity its topic); of one member when `p_member` is given.
-- Only live records count: a deleted record (or one under a deleted parent) stops
-- counting at once, and so does a proposal its proposer withdrew.
CREATE FUNCTION performance_items(p_district uuid, p_year integer, p_member uuid)
RETURNS TABLE (member_id uuid, kind text, source_type text, source_id uuid,
    parent_id uuid, occurred_on date, title text)
LANGUAGE sql STABLE AS $$
    WITH proposals_of_year AS (
        SELECT p.id, p.lead_member_id, p.filed_at, p.title,
               (p.submitted_at AT TIME ZONE 'Asia/Shanghai')::date AS submitted_on
        FROM proposals p
        WHERE p.district_id = p_district AND p.deleted_at IS NULL
          AND p.status <> 'withdrawn'
          AND p.submitted_at >= make_timestamptz(p_year, 1, 1, 0, 0, 0, 'Asia/Shanghai')
          AND p.submitted_at < make_timestamptz(p_year + 1, 1, 1, 0, 0, 0, 'Asia/Shanghai')
    )
    SELECT p.lead_member_id, 'proposal_led', 'proposal', p.id, NULL::uuid, p.submitted_on,
           p.title
    FROM proposals_of_year p
    WHERE p.lead_member_id IS NOT NULL
      AND (p_member IS NULL OR p.lead_member_id = p_member)
    UNION ALL
    SELECT p.lead_member_id, 'proposal_filed', 'proposal', p.id, NULL,
           (p.filed_at AT TIME ZONE 'Asia/Shanghai')::date, p.title
    FROM proposals_of_year p
    WHERE p.lead_member_id IS NOT NULL AND p.filed_at IS NOT NULL
      AND (p_member IS NULL OR p.lead_member_id = p_member)
    UNION ALL
    SELECT c.member_id, 'proposal_cosigned', 'proposal', p.id, NULL, p.submitted_on, p.title
    FROM proposals_of_year p
    JOIN proposal_cosigners c ON c.proposal_id = p.id
    WHERE p_member IS NULL OR c.member_id = p_member
    UNION ALL
    SELECT participant, 'consultation_activity', 'consultation_activity', a.id, c.id,
           a.held_on, c.title
    FROM consultation_activities a
    JOIN consultations c ON c.id = a.consultation_id AND c.deleted_at IS NULL
    CROSS JOIN LATERAL unnest(a.participant_ids) AS participant
    WHERE a.district_id = p_district AND a.deleted_at IS NULL
      AND a.held_on >= make_date(p_year, 1, 1) AND a.held_on < make_date(p_year + 1, 1, 1)
      AND (p_member IS NULL OR a.participant_ids @> ARRAY[p_member])
      AND (p_member IS NULL OR participant = p_member)
    UNION ALL
    SELECT participant, 'workstation_activity', 'activity', a.id, NULL, a.held_on, a.title
    FROM activities a
    CROSS JOIN LATERAL unnest(a.participant_ids) AS participant
    WHERE a.district_id = p_district AND a.deleted_at IS NULL
      AND a.held_on >= make_date(p_year, 1, 1) AND a.held_on < make_date(p_year + 1, 1, 1)
      AND (p_member IS NULL OR a.participant_ids @> ARRAY[p_member])
      AND (p_member IS NULL OR participant = p_member)
    UNION ALL
    SELECT ma.member_id, 'meeting_' || ma.status, 'meeting', m.id, NULL, m.held_on, m.title
    FROM meetings m
    JOIN meeting_attendance ma ON ma.meeting_id = m.id
    WHERE m.district_id = p_district AND m.deleted_at IS NULL
      AND m.held_on >= make_date(p_year, 1, 1) AND m.held_on < make_date(p_year + 1, 1, 1)
      AND (p_member IS NULL OR ma.member_id = p_member)
    UNION ALL
    SELECT ee.member_id, 'evaluation_served', 'evaluation', e.id, NULL,
           (ee.added_at AT TIME ZONE 'Asia/Shanghai')::date, d.name
    FROM evaluations e
    JOIN departments d ON d.id = e.department_id
    JOIN evaluation_evaluators ee ON ee.evaluation_id = e.id
    WHERE e.district_id = p_district AND e.deleted_at IS NULL AND e.year = p_year
      AND (p_member IS NULL OR ee.member_id = p_member)
    UNION ALL
    SELECT r.member_id, 'ratings_given', 'evaluation', e.id, NULL,
           (max(r.created_at) AT TIME ZONE 'Asia/Shanghai')::date, min(d.name)
    FROM evaluations e
    JOIN departments d ON d.id = e.department_id
    JOIN evaluation_ratings r ON r.evaluation_id = e.id
    WHERE e.district_id = p_district AND e.deleted_at IS NULL AND e.year = p_year
      AND (p_member IS NULL OR r.member_id = p_member)
    GROUP BY r.member_id, e.id
$$;

-- What the performance query reads by district and date.
CREATE INDEX proposals_submitted_idx ON proposals (district_id, submitted_at)
    WHERE deleted_at IS NULL;
CREATE INDEX activities_district_held_idx ON activities (district_id, held_on)
    WHERE deleted_at IS NULL;
CREATE INDEX consultation_activities_district_held_idx
    ON consultation_activities (district_id, held_on) WHERE deleted_at IS NULL;
