ALTER TABLE departments DROP COLUMN external_id;
ALTER TABLE workstations DROP COLUMN external_id;
ALTER TABLE activities DROP COLUMN external_id;
ALTER TABLE proposals DROP COLUMN external_id;
