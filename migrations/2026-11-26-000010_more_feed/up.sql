-- The change feed carries the records that live under others too: consultation activities,
-- evaluation visits and rectification items.

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['consultation_activities', 'evaluation_visits',
        'rectification_items']
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
