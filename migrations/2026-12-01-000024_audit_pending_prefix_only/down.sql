-- Seal what is pending (its columns are not filled), then return to the sealer of
-- migration 000020, which reads them. No write adds a pending row meanwhile.
LOCK TABLE audit_pending IN SHARE ROW EXCLUSIVE MODE;
DO $$
BEGIN
    WHILE (SELECT writes FROM audit_seal(1000, 5000)) > 0 LOOP
    END LOOP;
END
$$;
ALTER TABLE audit_pending
    DROP CONSTRAINT audit_pending_events,
    ADD CONSTRAINT audit_pending_check CHECK (cardinality(prefixes) > 0
        AND cardinality(actions) = cardinality(prefixes)
        AND cardinality(entity_types) = cardinality(prefixes)
        AND cardinality(entity_ids) = cardinality(prefixes)
        AND cardinality(district_ids) = cardinality(prefixes)
        AND cardinality(befores) = cardinality(prefixes)
        AND cardinality(afters) = cardinality(prefixes)),
    ALTER COLUMN occurred_at SET NOT NULL,
    ALTER COLUMN actions SET NOT NULL,
    ALTER COLUMN entity_types SET NOT NULL,
    ALTER COLUMN entity_ids SET NOT NULL,
    ALTER COLUMN district_ids SET NOT NULL,
    ALTER COLUMN befores SET NOT NULL,
    ALTER COLUMN afters SET NOT NULL;
CREATE OR REPLACE FUNCTION audit_seal(p_limit integer, p_max_events integer,
    OUT writes integer, OUT events integer)
LANGUAGE plpgsql AS $$
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
        SELECT row_number() OVER (ORDER BY p.id, i) AS ord, p.occurred_at, p.actor_key_id,
            p.actor_role, p.actor_district_id, p.request_id, p.idempotency_key,
            p.actions[i] AS action, p.entity_types[i] AS entity_type,
            p.entity_ids[i] AS entity_id, p.district_ids[i] AS district_id,
            p.befores[i] AS before, p.afters[i] AS after, p.form, p.openings[i] AS opening
        FROM audit_pending AS p, generate_series(1, cardinality(p.prefixes)) AS i
        WHERE p.id = ANY (sealed)
    ), chained AS (
        INSERT INTO audit_events (seq, occurred_at, actor_key_id, actor_role,
            actor_district_id, request_id, idempotency_key, action, entity_type, entity_id,
            district_id, before, after, prev_hash, hash, form)
        SELECT head_seq + e.ord, e.occurred_at, e.actor_key_id, e.actor_role,
            e.actor_district_id, e.request_id, e.idempotency_key, e.action, e.entity_type,
            e.entity_id, e.district_id, e.before, e.after, h.prev, h.hash, e.form
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
