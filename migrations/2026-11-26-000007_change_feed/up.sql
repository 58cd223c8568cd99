-- The change feed: every write of a record stamps it with the id of its transaction and a
-- sequence number. A reader takes only rows whose transaction id is below the oldest
-- transaction still running (pg_snapshot_xmin), so every row it has passed is committed
-- and no transaction can later write below its cursor.

CREATE SEQUENCE change_seq;

CREATE FUNCTION stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_txid := pg_current_xact_id()::text::bigint;
    NEW.change_seq := nextval('change_seq');
    RETURN NEW;
END
$$;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['districts', 'departments', 'members', 'workstations',
        'activities', 'proposals', 'consultations', 'evaluations', 'rulings']
    LOOP
        EXECUTE format('ALTER TABLE %I
            ADD COLUMN change_txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
            ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval(''change_seq'')', name);
        EXECUTE format('CREATE INDEX %I ON %I (change_txid, change_seq)',
            name || '_change_idx', name);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %I
            FOR EACH ROW EXECUTE FUNCTION stamp_change()', name || '_stamp', name);
    END LOOP;
END
$$;
