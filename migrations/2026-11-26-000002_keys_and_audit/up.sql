-- API keys and the audit trail.

-- A key's token is shown once; only its SHA-256 is kept.
CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role text NOT NULL CHECK (role IN ('admin', 'clerk', 'sync', 'auditor')),
    district_id uuid REFERENCES districts (id),
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT api_keys_district_matches_role
        CHECK ((role IN ('clerk', 'sync')) = (district_id IS NOT NULL))
);
CREATE UNIQUE INDEX api_keys_token_hash_key ON api_keys (token_hash);

-- Every write, in the transaction of the write. seq has no gaps: writers take a lock for
-- the chain, so seq order is commit order and each hash covers the one before.
CREATE TABLE audit_events (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    occurred_at timestamptz NOT NULL,
    actor_key_id uuid,
    actor_role text,
    actor_district_id uuid,
    request_id text,
    idempotency_key text,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    district_id uuid,
    before jsonb,
    after jsonb,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_type, entity_id, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_key_id, seq);
CREATE INDEX audit_events_district_idx ON audit_events (district_id, seq);
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at, seq);

-- Append-only whatever the code does: no row changes, no row goes.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
