-- Writes no longer wait for each other to append to the chain. A write stores its events,
-- unchained, as one row of `audit_pending`, in its own transaction and without any lock:
-- they commit or vanish with the write. A sealer (`audit_seal`, one at a time under the chain's lock)
-- moves committed pending events onto the chain in the order it finds them, giving each
-- its seq and hash:
--   sha256(prev_hash || E'\n' || prefix || seq || '}')
-- exactly the hash the service's verification recomputes. One row here is one write: its
-- events stay together and in order on the chain.
CREATE TABLE audit_pending (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor_key_id uuid,
    actor_role text,
    actor_district_id uuid,
    request_id text,
    idempotency_key text,
    actions text[] NOT NULL,
    entity_types text[] NOT NULL,
    entity_ids text[] NOT NULL,
    district_ids uuid[] NOT NULL,
    befores jsonb[] NOT NULL,
    afters jsonb[] NOT NULL,
    prefixes text[] NOT NULL,
    CHECK (cardinality(prefixes) > 0
        AND cardinality(actions) = cardinality(prefixes)
        AND cardinality(entity_types) = cardinality(prefixes)
        AND cardinality(entity_ids) = cardinality(prefixes)
        AND cardinality(district_ids) = cardinality(prefixes)
        AND cardinality(befores) = cardinality(prefixes)
        AND cardinality(afters) = cardinality(prefixes))
);

-- Pending events are not edited, and leave only onto the chain: a row may be deleted only
-- by a transaction holding the chain's lock, which is what the sealer does after chaining
-- it. A guard against mistakes, as the chain's own triggers are; the chain's hashes are
-- what makes tampering evident.
CREATE FUNCTION audit_pending_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
          AND classid = 6516848 AND objid = 1667432449 AND objsubid = 1
    ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_pending leaves only onto the chain: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_pending_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_guard();

-- The service now inserts a write's events into audit_pending itself (one statement it
-- keeps prepared), so the function that appended under the lock goes.
DROP FUNCTION audit_append(timestamptz, uuid, text, uuid, text, text, text[], text[], text[],
    uuid[], jsonb[], jsonb[], text[]);

-- Chains up to `p_limit` committed writes' pending events, oldest pending first, under the
-- chain's lock (held to the commit, so sealers follow each other). The hashes are computed
-- in order, then every event of the round is inserted by one statement. Returns how many
-- writes and events it sealed; fewer writes than `p_limit` means nothing committed is left.
CREATE FUNCTION audit_seal(p_limit integer, OUT writes integer, OUT events integer)
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
    END LOOP;
    IF writes = 0 THEN
        RETURN;
    END IF;
    -- The events in the order their hashes were computed: by pending row, then position.
    INSERT INTO audit_events (seq, occurred_at, actor_key_id, actor_role,
        actor_district_id, request_id, idempotency_key, action, entity_type, entity_id,
        district_id, before, after, prev_hash, hash)
    SELECT head_seq + ord, e.occurred_at, e.actor_key_id, e.actor_role,
        e.actor_district_id, e.request_id, e.idempotency_key, e.actions[e.i],
        e.entity_types[e.i], e.entity_ids[e.i], e.district_ids[e.i], e.befores[e.i],
        e.afters[e.i], h.prev, h.hash
    FROM unnest(prevs, hashes) WITH ORDINALITY AS h (prev, hash, ord)
    JOIN (
        SELECT p.occurred_at, p.actor_key_id, p.actor_role, p.actor_district_id,
            p.request_id, p.idempotency_key, p.actions, p.entity_types, p.entity_ids,
            p.district_ids, p.befores, p.afters, i,
            row_number() OVER (ORDER BY p.id, i) AS ord
        FROM audit_pending AS p, generate_series(1, cardinality(p.prefixes)) AS i
        WHERE p.id = ANY (sealed)
    ) AS e USING (ord);
    DELETE FROM audit_pending WHERE id = ANY (sealed);
END;
$$;
