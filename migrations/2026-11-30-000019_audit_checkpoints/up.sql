-- Signed checkpoints of the audit trail. The service signs the chain's head with an
-- Ed25519 key held outside the database; the database keeps the public keys and the
-- signed statements, never a private key.
CREATE TABLE audit_signing_keys (
    key_id text PRIMARY KEY,
    -- The 32 bytes of the Ed25519 public key.
    public_key bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_checkpoints (
    -- 1, 2, 3, … without gaps, in seq order.
    number bigint PRIMARY KEY CHECK (number >= 1),
    seq bigint NOT NULL UNIQUE CHECK (seq >= 1),
    hash text NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id text NOT NULL REFERENCES audit_signing_keys (key_id),
    -- Ed25519 over the statement's text (see the README), 128 hex digits.
    signature text NOT NULL
);
CREATE INDEX audit_checkpoints_key_idx ON audit_checkpoints (key_id, number);

-- Both are append-only, as the chain is; the signatures are what makes tampering evident.
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_signing_keys_no_update BEFORE UPDATE OR DELETE ON audit_signing_keys
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_signing_keys_no_truncate BEFORE TRUNCATE ON audit_signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
