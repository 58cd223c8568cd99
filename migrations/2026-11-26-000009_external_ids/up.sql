-- The ids district systems give their records, for syncing by them (members sync by
-- member_no). Unique among the live records of a district.

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['departments', 'workstations', 'activities', 'proposals']
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN external_id text
            CHECK (external_id ~ ''^[A-Za-z0-9._/:-]{1,64}$'')', name);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (district_id, external_id)
            WHERE deleted_at IS NULL AND external_id IS NOT NULL',
            name || '_external_id_key', name);
    END LOOP;
END
$$;
