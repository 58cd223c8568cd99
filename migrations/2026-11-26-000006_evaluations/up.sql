-- Democratic evaluations (民主评议) of a district's departments: evaluators, investigation
-- visits, ratings (民主测评), the report's rectification items (整改事项); and
-- evaluations as subjects of rulings.

CREATE TABLE evaluations (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    department_id uuid NOT NULL REFERENCES departments (id),
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    phase text NOT NULL DEFAULT 'preparation' CHECK (phase IN ('preparation', 'investigation',
        'deliberation', 'rectification', 'concluded')),
    report_text text,
    reported_at timestamptz,
    score double precision CHECK (score BETWEEN 0 AND 100),
    grade text CHECK (grade IN ('excellent', 'good', 'fair', 'poor')),
    concluded_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    CONSTRAINT evaluations_result_when_concluded CHECK (
        (phase = 'concluded') = (grade IS NOT NULL AND score IS NOT NULL))
);
CREATE UNIQUE INDEX evaluations_department_year_key ON evaluations (department_id, year)
    WHERE deleted_at IS NULL;
CREATE INDEX evaluations_district_idx ON evaluations (district_id, year, id);
CREATE INDEX evaluations_feed_idx ON evaluations (updated_at, id);
CREATE TRIGGER evaluations_touch BEFORE UPDATE ON evaluations
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE evaluation_evaluators (
    evaluation_id uuid NOT NULL REFERENCES evaluations (id),
    member_id uuid NOT NULL REFERENCES members (id),
    district_id uuid NOT NULL REFERENCES districts (id),
    training_completed_at timestamptz,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (evaluation_id, member_id)
);
CREATE INDEX evaluation_evaluators_member_idx ON evaluation_evaluators (member_id);

CREATE TABLE evaluation_visits (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    evaluation_id uuid NOT NULL REFERENCES evaluations (id),
    visited_on date NOT NULL,
    place text NOT NULL,
    visited text NOT NULL,
    findings text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz
);
CREATE INDEX evaluation_visits_evaluation_idx ON evaluation_visits (evaluation_id, id);
CREATE TRIGGER evaluation_visits_touch BEFORE UPDATE ON evaluation_visits
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- One rating per evaluator and criterion; a second one replaces the first.
CREATE TABLE evaluation_ratings (
    evaluation_id uuid NOT NULL,
    member_id uuid NOT NULL,
    criterion text NOT NULL CHECK (criterion IN ('performance_of_duties', 'work_style',
        'service_efficiency', 'integrity')),
    district_id uuid NOT NULL REFERENCES districts (id),
    rating text NOT NULL CHECK (rating IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (evaluation_id, member_id, criterion),
    FOREIGN KEY (evaluation_id, member_id)
        REFERENCES evaluation_evaluators (evaluation_id, member_id)
);
CREATE TRIGGER evaluation_ratings_touch BEFORE UPDATE ON evaluation_ratings
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE rectification_items (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    evaluation_id uuid NOT NULL REFERENCES evaluations (id),
    position integer NOT NULL,
    description text NOT NULL,
    due_on date NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done',
        'verified', 'carried_over')),
    carry_over_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    CONSTRAINT rectification_items_reason_when_carried_over CHECK (
        (status = 'carried_over') = (carry_over_reason IS NOT NULL)),
    UNIQUE (evaluation_id, position)
);
CREATE TRIGGER rectification_items_touch BEFORE UPDATE ON rectification_items
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE rectification_notes (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    item_id uuid NOT NULL REFERENCES rectification_items (id),
    noted_on date NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rectification_notes_item_idx ON rectification_notes (item_id, id);

ALTER TABLE rulings ADD COLUMN evaluation_id uuid REFERENCES evaluations (id);
CREATE INDEX rulings_evaluation_idx ON rulings (evaluation_id);
ALTER TABLE rulings DROP CONSTRAINT rulings_subject_type_check;
ALTER TABLE rulings ADD CONSTRAINT rulings_subject_type_check
    CHECK (subject_type IN ('consultation', 'proposal', 'evaluation'));
ALTER TABLE rulings DROP CONSTRAINT rulings_one_subject;
ALTER TABLE rulings ADD CONSTRAINT rulings_one_subject CHECK (
    (subject_type = 'consultation') = (consultation_id IS NOT NULL)
    AND (subject_type = 'proposal') = (proposal_id IS NOT NULL)
    AND (subject_type = 'evaluation') = (evaluation_id IS NOT NULL));
