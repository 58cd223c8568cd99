-- Rulings (批示) of district leaders on a consultation topic or a proposal, and the
-- measures departments take on them.

CREATE TABLE rulings (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    leader_name text NOT NULL,
    leader_title text NOT NULL CHECK (leader_title IN ('party_secretary', 'district_mayor',
        'committee_chair', 'deputy', 'other')),
    subject_type text NOT NULL CHECK (subject_type IN ('consultation', 'proposal')),
    consultation_id uuid REFERENCES consultations (id),
    proposal_id uuid REFERENCES proposals (id),
    stage text CHECK (stage IN ('before', 'during', 'after')),
    content text NOT NULL,
    issued_on date NOT NULL,
    department_ids uuid[] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'issued'
        CHECK (status IN ('issued', 'in_handling', 'fed_back', 'closed')),
    feedback_text text,
    fed_back_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    CONSTRAINT rulings_one_subject CHECK (
        (subject_type = 'consultation') = (consultation_id IS NOT NULL)
        AND (subject_type = 'proposal') = (proposal_id IS NOT NULL)),
    CONSTRAINT rulings_stage_for_proposals CHECK (stage IS NULL OR subject_type = 'proposal')
);
CREATE INDEX rulings_district_idx ON rulings (district_id, status, id);
CREATE INDEX rulings_consultation_idx ON rulings (consultation_id);
CREATE INDEX rulings_proposal_idx ON rulings (proposal_id);
CREATE INDEX rulings_feed_idx ON rulings (updated_at, id);
CREATE TRIGGER rulings_touch BEFORE UPDATE ON rulings
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE ruling_measures (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    ruling_id uuid NOT NULL REFERENCES rulings (id),
    department_id uuid NOT NULL REFERENCES departments (id),
    text text NOT NULL,
    taken_on date NOT NULL,
    status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'in_progress', 'done')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE INDEX ruling_measures_ruling_idx ON ruling_measures (ruling_id, id);
CREATE TRIGGER ruling_measures_touch BEFORE UPDATE ON ruling_measures
    FOR EACH ROW EXECUTE FUNCTION touch_row();
