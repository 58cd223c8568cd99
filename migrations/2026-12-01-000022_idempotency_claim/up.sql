-- A request's claim on its Idempotency-Key as one statement that fails unless the key is
-- free: its lock is taken (held to the end of the transaction) and no answer kept in the
-- last `p_kept_hours` is found. The service sends it ahead of the handler's own
-- statements, in the same round trip, without waiting for it: when it fails, everything
-- sent after it fails with it (the transaction has failed), and the service then asks
-- what the key holds, in a transaction of its own.
CREATE FUNCTION idempotency_claim(p_lock bigint, p_api_key_id uuid, p_key text,
    p_kept_hours integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(p_lock) THEN
        RAISE EXCEPTION 'the idempotency key is held by a running request';
    END IF;
    -- Its own snapshot, taken after the lock is held: the answer of the last holder. The
    -- key is compared in the column's collation whatever the caller's (a key made by
    -- `convert_from` comes in "C"), so the primary key's index finds it.
    IF EXISTS (SELECT FROM idempotency_keys
               WHERE api_key_id = p_api_key_id AND key = p_key COLLATE "default"
                 AND created_at >= now() - make_interval(hours => p_kept_hours)) THEN
        RAISE EXCEPTION 'the idempotency key has an answer';
    END IF;
END;
$$;
