DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['districts', 'departments', 'members', 'workstations',
        'activities', 'proposals', 'consultations', 'evaluations', 'rulings']
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', name || '_stamp', name);
        EXECUTE format('ALTER TABLE %I DROP COLUMN change_txid, DROP COLUMN change_seq', name);
    END LOOP;
END
$$;
DROP FUNCTION stamp_change();
DROP SEQUENCE change_seq;
