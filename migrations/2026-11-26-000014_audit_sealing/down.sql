-- Seal what is pending, then return to appending under the lock (migration 000013).
DO $$
BEGIN
    WHILE (SELECT writes FROM audit_seal(1000)) > 0 LOOP
    END LOOP;
END
$$;
DROP FUNCTION audit_seal(integer);
DROP TABLE audit_pending;
DROP FUNCTION audit_pending_guard();
CREATE FUNCTION audit_append(
    p_occurred_at timestamptz,
    p_actor_key_id uuid,
    p_actor_role text,
    p_actor_district_id uuid,
    p_request_id text,
    p_idempotency_key text,
    p_actions text[],
    p_entity_types text[],
    p_entity_ids text[],
    p_district_ids uuid[],
    p_befores jsonb[],
    p_afters jsonb[],
    p_prefixes text[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_prefixes), 0);
    head_seq bigint;
    head_hash text;
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    -- Writers append one at a time, until they commit: the lock is taken before the head
    -- is read, and this statement's snapshot is taken after it.
    PERFORM pg_advisory_xact_lock(27989650700435457);
    SELECT seq, hash INTO head_seq, head_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    FOR i IN 1..n LOOP
        prevs := prevs || head_hash;
        head_hash := encode(sha256(convert_to(
            head_hash || E'\n' || p_prefixes[i] || (head_seq + i)::text || '}', 'UTF8')), 'hex');
        hashes := hashes || head_hash;
    END LOOP;
    INSERT INTO audit_events (seq, occurred_at, actor_key_id, actor_role, actor_district_id,
        request_id, idempotency_key, action, entity_type, entity_id, district_id, before,
        after, prev_hash, hash)
    SELECT head_seq + i, p_occurred_at, p_actor_key_id, p_actor_role, p_actor_district_id,
        p_request_id, p_idempotency_key, p_actions[i], p_entity_types[i], p_entity_ids[i],
        p_district_ids[i], p_befores[i], p_afters[i], prevs[i], hashes[i]
    FROM generate_series(1, n) AS i;
    RETURN head_seq + n;
END;
$$;
