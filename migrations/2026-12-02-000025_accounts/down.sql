-- Accounts cannot be taken out once the trail names one: those events' hashes cover the
-- account, and without its column they could no longer be verified.
DO $$
BEGIN
    IF EXISTS (SELECT FROM audit_events WHERE actor_account IS NOT NULL)
        OR EXISTS (SELECT FROM audit_pending AS p, unnest(p.prefixes) AS prefix
                   WHERE prefix LIKE '%,"actor_account":{%') THEN
        RAISE EXCEPTION 'the audit trail names accounts: migration 000025 cannot be undone';
    END IF;
END
$$;

-- The sealer of migration 000024.
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

ALTER TABLE workflow_steps DROP COLUMN actor_account;
DROP INDEX audit_events_account_idx;
ALTER TABLE audit_events DROP COLUMN actor_account;
DROP TRIGGER api_keys_notify_change ON api_keys;
CREATE TRIGGER api_keys_notify_change
AFTER UPDATE OF revoked_at, expires_at, role, district_id, token_hash OR DELETE
ON api_keys
FOR EACH ROW EXECUTE FUNCTION notify_api_key_change();
DROP TRIGGER account_identities_notify_change ON account_identities;
DROP TRIGGER accounts_notify_change ON accounts;
DROP FUNCTION notify_account_change();
DELETE FROM idempotency_keys WHERE api_key_id NOT IN (
    SELECT id FROM api_keys WHERE account_id IS NULL);
DELETE FROM api_keys WHERE account_id IS NOT NULL;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_api_key_id_fkey
    FOREIGN KEY (api_key_id) REFERENCES api_keys (id);
ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_person_roles_have_accounts,
    DROP CONSTRAINT api_keys_district_matches_role,
    ADD CONSTRAINT api_keys_district_matches_role
        CHECK ((role IN ('clerk', 'sync')) = (district_id IS NOT NULL)),
    DROP CONSTRAINT api_keys_role_check,
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'clerk', 'sync', 'auditor')),
    DROP COLUMN account_id;
DROP TABLE account_identities;
DROP TABLE accounts;
