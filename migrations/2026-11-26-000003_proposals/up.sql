-- Proposals (提案) and their workflow.

CREATE TABLE proposal_categories (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name_zh text NOT NULL,
    name_en text NOT NULL,
    sort_order integer NOT NULL
);

INSERT INTO proposal_categories (code, name_zh, name_en, sort_order) VALUES
    ('economy', '经济建设', 'Economic development', 1),
    ('urban', '城市建设与管理', 'Urban development and management', 2),
    ('environment', '生态环境', 'Ecology and environment', 3),
    ('education', '教育', 'Education', 4),
    ('health', '医疗卫生', 'Health care', 5),
    ('culture', '文化旅游', 'Culture and tourism', 6),
    ('society', '社会治理与民生', 'Social governance and livelihoods', 7),
    ('rule_of_law', '法治建设', 'Rule of law', 8),
    ('science', '科技创新', 'Science and innovation', 9),
    ('other', '其他', 'Other', 10);

-- The distinct two-character pieces of a text, lowercased: a proposal is found by any
-- two-character substring of its title or body (Chinese included) through a GIN index.
CREATE FUNCTION cppcc_bigrams(input text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(input), i, 2)), '{}')
    FROM generate_series(1, char_length(input) - 1) AS i
$$;

CREATE TABLE proposals (
    id uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts (id),
    kind text NOT NULL CHECK (kind IN ('member', 'joint', 'party_group', 'sector_group',
        'committee')),
    title text NOT NULL,
    body text NOT NULL,
    category text NOT NULL REFERENCES proposal_categories (code),
    lead_member_id uuid REFERENCES members (id),
    proposer_org text,
    is_key boolean NOT NULL DEFAULT false,
    supervising_leader text,
    lead_unit_id uuid REFERENCES departments (id),
    co_unit_ids uuid[] NOT NULL DEFAULT '{}',
    number text,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted', 'filed',
        'not_filed', 'merged', 'assigned', 'replied', 'closed', 'withdrawn')),
    submitted_at timestamptz,
    filed_at timestamptz,
    reply_due_on date,
    extended boolean NOT NULL DEFAULT false,
    rehandled boolean NOT NULL DEFAULT false,
    reply_text text,
    reply_document_no text,
    reply_result text CHECK (reply_result IN ('A', 'B', 'C')),
    replied_on date,
    verdict text CHECK (verdict IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
    reject_reason text,
    forward_as text CHECK (forward_as IN ('opinion', 'social_conditions')),
    merged_into_id uuid REFERENCES proposals (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    search_bigrams text[] GENERATED ALWAYS AS (cppcc_bigrams(title || ' ' || body)) STORED,
    CONSTRAINT proposals_proposer_matches_kind CHECK (
        (kind IN ('member', 'joint')) = (lead_member_id IS NOT NULL)
        AND (kind IN ('member', 'joint')) = (proposer_org IS NULL))
);
CREATE UNIQUE INDEX proposals_number_key ON proposals (district_id, number)
    WHERE number IS NOT NULL;
CREATE INDEX proposals_district_idx ON proposals (district_id, status, id);
CREATE INDEX proposals_feed_idx ON proposals (updated_at, id);
CREATE INDEX proposals_search_idx ON proposals USING gin (search_bigrams);
CREATE INDEX proposals_co_units_idx ON proposals USING gin (co_unit_ids);
CREATE TRIGGER proposals_touch BEFORE UPDATE ON proposals
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- The last number given per district and year. Filing takes the row's lock until it
-- commits, so numbers are consecutive and a rolled-back filing consumes none.
CREATE TABLE proposal_number_counters (
    district_id uuid NOT NULL REFERENCES districts (id),
    year integer NOT NULL,
    last integer NOT NULL,
    PRIMARY KEY (district_id, year)
);

CREATE TABLE proposal_cosigners (
    proposal_id uuid NOT NULL REFERENCES proposals (id),
    member_id uuid NOT NULL REFERENCES members (id),
    district_id uuid NOT NULL REFERENCES districts (id),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, member_id)
);
CREATE INDEX proposal_cosigners_member_idx ON proposal_cosigners (member_id);

-- Every step of every workflow (proposals, and the other workflows to come), with who
-- took it and what they sent.
CREATE TABLE workflow_steps (
    id uuid PRIMARY KEY,
    entity_type text NOT NULL,
    entity_id uuid NOT NULL,
    action text NOT NULL,
    from_status text NOT NULL,
    to_status text NOT NULL,
    actor_key_id uuid,
    actor_role text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX workflow_steps_entity_idx ON workflow_steps (entity_type, entity_id, id);
