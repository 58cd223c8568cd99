-- The people who act: accounts. An account is a person linked to what they act for (a
-- member of a district, a unit of a district, a leaders' office of a district with the
-- leader's title) or holding a staff role (administrator, clerk of a district, auditor).
-- A person authenticates with a personal key of the account, or with an OpenID Connect
-- token whose issuer and subject are linked to it.
CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    district_id uuid REFERENCES districts (id),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    role text NOT NULL CHECK (role IN ('admin', 'clerk', 'auditor', 'member', 'unit',
        'leaders_office')),
    member_id uuid REFERENCES members (id),
    department_id uuid REFERENCES departments (id),
    leader_title text CHECK (leader_title IN ('party_secretary', 'district_mayor',
        'committee_chair', 'deputy', 'other')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- The district system's id, for accounts it syncs.
    external_id text CHECK (external_id ~ '^[A-Za-z0-9._/:-]{1,64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    -- What the account acts for follows from its role, and only from it.
    CONSTRAINT accounts_member_matches_role CHECK ((role = 'member') = (member_id IS NOT NULL)),
    CONSTRAINT accounts_unit_matches_role CHECK ((role = 'unit') = (department_id IS NOT NULL)),
    CONSTRAINT accounts_office_matches_role
        CHECK ((role = 'leaders_office') = (leader_title IS NOT NULL)),
    -- Administrators and auditors see every district; everyone else belongs to one.
    CONSTRAINT accounts_district_matches_role
        CHECK ((role IN ('admin', 'auditor')) = (district_id IS NULL))
);
CREATE UNIQUE INDEX accounts_external_id_key ON accounts (district_id, external_id)
    WHERE deleted_at IS NULL AND external_id IS NOT NULL;
CREATE INDEX accounts_district_idx ON accounts (district_id, id);
CREATE INDEX accounts_feed_idx ON accounts (updated_at, id);
CREATE INDEX accounts_member_idx ON accounts (member_id) WHERE member_id IS NOT NULL;
CREATE INDEX accounts_department_idx ON accounts (department_id) WHERE department_id IS NOT NULL;
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION touch_row();
ALTER TABLE accounts
    ADD COLUMN change_txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('change_seq');
CREATE INDEX accounts_change_idx ON accounts (change_txid, change_seq);
CREATE TRIGGER accounts_stamp BEFORE INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION stamp_change();

-- The identities an OpenID Connect provider gives a person: its issuer and subject name
-- one account, wherever it is linked.
CREATE TABLE account_identities (
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 255),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    account_id uuid NOT NULL REFERENCES accounts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX account_identities_account_idx ON account_identities (account_id);

-- A personal key belongs to an account and acts as it: its role and district are the
-- account's, read when the key is used. Machine keys have no account.
ALTER TABLE api_keys
    ADD COLUMN account_id uuid REFERENCES accounts (id),
    DROP CONSTRAINT api_keys_role_check,
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'clerk', 'sync', 'auditor',
        'member', 'unit', 'leaders_office')),
    DROP CONSTRAINT api_keys_district_matches_role,
    ADD CONSTRAINT api_keys_district_matches_role
        CHECK (account_id IS NOT NULL OR (role IN ('clerk', 'sync')) = (district_id IS NOT NULL)),
    ADD CONSTRAINT api_keys_person_roles_have_accounts
        CHECK (account_id IS NOT NULL OR role IN ('admin', 'clerk', 'sync', 'auditor'));
CREATE INDEX api_keys_account_idx ON api_keys (account_id) WHERE account_id IS NOT NULL;

-- Whatever changes an account's standing (disabled, its role, district or what it acts
-- for) or its identities, by whichever process or by hand, notifies the channel every
-- process forgets its verified credentials on.
CREATE FUNCTION notify_account_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('cppcc_api_keys', OLD.account_id::text);
    ELSIF TG_TABLE_NAME = 'account_identities' THEN
        PERFORM pg_notify('cppcc_api_keys', NEW.account_id::text);
    ELSE
        PERFORM pg_notify('cppcc_api_keys', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_notify_change
AFTER UPDATE OF status, role, district_id, member_id, department_id, leader_title,
    display_name, deleted_at
ON accounts
FOR EACH ROW EXECUTE FUNCTION notify_account_change();
CREATE TRIGGER account_identities_notify_change
AFTER INSERT OR UPDATE OR DELETE ON account_identities
FOR EACH ROW EXECUTE FUNCTION notify_account_change();
-- Keys also follow the account they belong to.
DROP TRIGGER api_keys_notify_change ON api_keys;
CREATE TRIGGER api_keys_notify_change
AFTER UPDATE OF revoked_at, expires_at, role, district_id, token_hash, account_id OR DELETE
ON api_keys
FOR EACH ROW EXECUTE FUNCTION notify_api_key_change();

-- An idempotency record belongs to the principal that sent the request: a key, or the
-- account of a person authenticated by an identity provider (no key).
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_api_key_id_fkey;

-- The acting person, in the trail and in workflow histories: the account's id, display
-- name, what it acts for and how it authenticated. An event without one (a machine key,
-- the command line) has no such key in its canonical form, as before.
ALTER TABLE audit_events ADD COLUMN actor_account jsonb;
CREATE INDEX audit_events_account_idx ON audit_events (((actor_account ->> 'id')::uuid), seq)
    WHERE actor_account IS NOT NULL;
ALTER TABLE workflow_steps ADD COLUMN actor_account jsonb;

-- The sealer of migration 000024, which also copies the acting account of each event from
-- its prefix.
CREATE OR REPLACE FUNCTION audit_seal(p_limit integer, p_max_events integer,
    OUT writes integer, OUT events integer)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    pending record;
    prevs text[] := '{}';
    hashes text[] := '{}';
    sealed bigint[] := '{}';
BEGIN
    writes := 0;
    events := 0;
    PERFORM pg_advisory_xact_lock(27989650700435457);
    SELECT seq, hash INTO head_seq, head_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    FOR pending IN SELECT id, prefixes FROM audit_pending ORDER BY id LIMIT p_limit LOOP
        FOR i IN 1..cardinality(pending.prefixes) LOOP
            events := events + 1;
            prevs := prevs || head_hash;
            head_hash := encode(sha256(convert_to(
                head_hash || E'\n' || pending.prefixes[i] || (head_seq + events)::text || '}',
                'UTF8')), 'hex');
            hashes := hashes || head_hash;
        END LOOP;
        sealed := sealed || pending.id;
        writes := writes + 1;
        EXIT WHEN events >= p_max_events;
    END LOOP;
    IF writes = 0 THEN
        RETURN;
    END IF;
    -- The events in the order their hashes were computed: by pending row, then position;
    -- their openings beside them.
    WITH e AS (
        SELECT row_number() OVER (ORDER BY p.id, i) AS ord,
            (p.prefixes[i] || '0}')::jsonb AS doc, p.form, p.openings[i] AS opening
        FROM audit_pending AS p, generate_series(1, cardinality(p.prefixes)) AS i
        WHERE p.id = ANY (sealed)
    ), chained AS (
        INSERT INTO audit_events (seq, occurred_at, actor_key_id, actor_role,
            actor_district_id, actor_account, request_id, idempotency_key, action, entity_type, entity_id,
            district_id, before, after, prev_hash, hash, form)
        SELECT head_seq + e.ord, (e.doc ->> 'occurred_at')::timestamptz,
            (e.doc ->> 'actor_key_id')::uuid, e.doc ->> 'actor_role',
            (e.doc ->> 'actor_district_id')::uuid, e.doc -> 'actor_account',
            e.doc ->> 'request_id',
            e.doc ->> 'idempotency_key', e.doc ->> 'action', e.doc ->> 'entity_type',
            e.doc ->> 'entity_id', (e.doc ->> 'district_id')::uuid,
            nullif(e.doc -> 'before', 'null'), nullif(e.doc -> 'after', 'null'),
            h.prev, h.hash, e.form
        FROM unnest(prevs, hashes) WITH ORDINALITY AS h (prev, hash, ord)
        JOIN e USING (ord)
    )
    INSERT INTO audit_openings (seq, field, value, salt)
    SELECT head_seq + e.ord, o.key, o.value ->> 'value', o.value ->> 'salt'
    FROM e, jsonb_each(e.opening) AS o
    WHERE e.opening IS NOT NULL;
    DELETE FROM audit_pending WHERE id = ANY (sealed);
END;
$$;
