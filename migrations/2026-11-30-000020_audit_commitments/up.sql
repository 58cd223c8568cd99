-- Personal contact data leaves the hashed form of the trail. From this migration on, a
-- write's events carry, for each contact value, a salted commitment in place of the value
-- (`{"commitment": sha256(salt || value)}`), and the value with its salt is kept here,
-- apart: readable by those who may read contact data, never by auditors, and erasable
-- without touching a hash. Events chained before keep their hashes over clear values:
-- `form` tells the two apart (1: clear, 2: commitments).
ALTER TABLE audit_pending ADD COLUMN form smallint NOT NULL DEFAULT 1 CHECK (form IN (1, 2));
-- Per event: {"after.phone": {"value": "...", "salt": "<hex>"}, ...}, or null.
ALTER TABLE audit_pending ADD COLUMN openings jsonb[];
ALTER TABLE audit_pending ADD CHECK (openings IS NULL OR cardinality(openings) = cardinality(prefixes));
ALTER TABLE audit_events ADD COLUMN form smallint NOT NULL DEFAULT 1 CHECK (form IN (1, 2));

CREATE TABLE audit_openings (
    seq bigint NOT NULL,
    -- `before.phone`, `after.email`, ...
    field text NOT NULL,
    value text,
    salt text,
    erased_at timestamptz,
    PRIMARY KEY (seq, field),
    CHECK ((value IS NULL) = (salt IS NULL) AND (value IS NULL) = (erased_at IS NOT NULL))
);

-- An opening is written once and may only be erased: its value and salt go, the time of
-- the erasure stays; nothing else changes and no row goes.
CREATE FUNCTION audit_openings_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.seq = OLD.seq AND NEW.field = OLD.field
        AND OLD.value IS NOT NULL AND NEW.value IS NULL AND NEW.salt IS NULL
        AND NEW.erased_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_openings may only be erased: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_openings_erase_only BEFORE UPDATE OR DELETE ON audit_openings
    FOR EACH ROW EXECUTE FUNCTION audit_openings_guard();
CREATE TRIGGER audit_openings_no_truncate BEFORE TRUNCATE ON audit_openings
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The sealer as before, now carrying each event's form and openings along, and bounded
-- by events as well as by writes: a round stops after the write that reaches
-- `p_max_events` (one write's events stay together), so a backlog of large writes (sync
-- batches of 1,000 records each) is chained in rounds that each finish well within the
-- statement timeout, instead of one round that never does.
DROP FUNCTION audit_seal(integer);
CREATE FUNCTION audit_seal(p_limit integer, p_max_events integer,
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
