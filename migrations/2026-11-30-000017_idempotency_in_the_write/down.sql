ALTER TABLE idempotency_keys
    DROP COLUMN request_bytes,
    ADD COLUMN completed_at timestamptz,
    ALTER COLUMN status DROP NOT NULL,
    ALTER COLUMN headers DROP NOT NULL,
    ALTER COLUMN body DROP NOT NULL;
