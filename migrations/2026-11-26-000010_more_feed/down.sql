DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['consultation_activities', 'evaluation_visits',
        'rectification_items']
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', name || '_stamp', name);
        EXECUTE format('ALTER TABLE %I DROP COLUMN change_txid, DROP COLUMN change_seq', name);
    END LOOP;
END
$$;
