-- A pending event is stored once: as the canonical text its hash will cover (`prefixes`),
-- not also as columns beside it. The sealer reads each chained event's columns from that
-- very text, so an event on the chain cannot disagree with its hash, and a write sends and
-- stores half as much (its records were in the row twice, as jsonb and inside the text).
-- The columns stay, nullable and no longer read, for writers of the previous release
-- during a rolling upgrade; the sealer ignores them for every row alike.
ALTER TABLE audit_pending
    ALTER COLUMN occurred_at DROP NOT NULL,
    ALTER COLUMN actions DROP NOT NULL,
    ALTER COLUMN entity_types DROP NOT NULL,
    ALTER COLUMN entity_ids DROP NOT NULL,
    ALTER COLUMN district_ids DROP NOT NULL,
    ALTER COLUMN befores DROP NOT NULL,
    ALTER COLUMN afters DROP NOT NULL,
    DROP CONSTRAINT audit_pending_check,
    ADD CONSTRAINT audit_pending_events CHECK (cardinality(prefixes) > 0);

-- The sealer of migration 000020, with each event's columns read from its prefix
-- (completed with a placeholder seq to make it a JSON document), and never compiled to
-- machine code: the planner's guess of a round's rows (a thousand events per pending row)
-- put its statement over the JIT threshold, and compiling it took longer (15 ms) than
-- sealing a hundred writes.
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
            actor_district_id, request_id, idempotency_key, action, entity_type, entity_id,
            district_id, before, after, prev_hash, hash, form)
        SELECT head_seq + e.ord, (e.doc ->> 'occurred_at')::timestamptz,
            (e.doc ->> 'actor_key_id')::uuid, e.doc ->> 'actor_role',
            (e.doc ->> 'actor_district_id')::uuid, e.doc ->> 'request_id',
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
