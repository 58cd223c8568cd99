-- Consultations (协商): the topics of a district's annual plan and their activities.

CREATE TABLE consultations (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    title text NOT NULL,
    is_key boolean NOT NULL DEFAULT false,
    lead_committee text,
    status text NOT NULL DEFAULT 'planned'
        CHECK (status IN ('planned', 'in_progress', 'reported', 'closed')),
    report_title text,
    report_text text,
    report_recipients text[] NOT NULL DEFAULT '{}',
    reported_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX consultations_title_key ON consultations (district_id, year, title)
    WHERE deleted_at IS NULL;
CREATE INDEX consultations_plan_idx ON consultations (district_id, year, id);
CREATE INDEX consultations_feed_idx ON consultations (updated_at, id);
CREATE TRIGGER consultations_touch BEFORE UPDATE ON consultations
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE consultation_activities (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    consultation_id uuid NOT NULL REFERENCES consultations (id),
    format text NOT NULL CHECK (format IN ('thematic_meeting', 'standing_committee',
        'counterpart', 'sector', 'proposal_handling', 'street_micro')),
    held_on date NOT NULL,
    place text,
    participant_ids uuid[] NOT NULL DEFAULT '{}',
    department_ids uuid[] NOT NULL DEFAULT '{}',
    opinions_gathered integer NOT NULL DEFAULT 0 CHECK (opinions_gathered >= 0),
    summary text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE INDEX consultation_activities_topic_idx ON consultation_activities (consultation_id, id);
CREATE INDEX consultation_activities_feed_idx ON consultation_activities (updated_at, id);
CREATE INDEX consultation_activities_participants_idx ON consultation_activities
    USING gin (participant_ids);
CREATE TRIGGER consultation_activities_touch BEFORE UPDATE ON consultation_activities
    FOR EACH ROW EXECUTE FUNCTION touch_row();
