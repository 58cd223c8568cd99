-- A key is claimed and answered inside the transaction of the write it protects: its row
-- exists only once that transaction has committed, with the answer. "Still running" is an
-- advisory lock held by the transaction, which dies with it, never a row.
DELETE FROM idempotency_keys WHERE status IS NULL;
ALTER TABLE idempotency_keys
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN headers SET NOT NULL,
    ALTER COLUMN body SET NOT NULL,
    DROP COLUMN completed_at,
    -- The length of the first request's body: a retry's body is read no further.
    ADD COLUMN request_bytes bigint CHECK (request_bytes >= 0);
