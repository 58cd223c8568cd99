-- Idempotency keys: the first answer to a POST sent with an `Idempotency-Key`, kept per API
-- key so a retry gets the same answer instead of a second write.

CREATE TABLE idempotency_keys (
    api_key_id uuid NOT NULL REFERENCES api_keys (id),
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the method, the path with its query and the body.
    request_hash bytea NOT NULL,
    -- Null while the first request is running.
    status smallint,
    headers jsonb,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
