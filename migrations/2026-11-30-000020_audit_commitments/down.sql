-- The earlier audit_seal(integer) comes back only by reapplying its migration.
DROP FUNCTION audit_seal(integer, integer);
DROP TABLE audit_openings;
DROP FUNCTION audit_openings_guard();
ALTER TABLE audit_events DROP COLUMN form;
ALTER TABLE audit_pending DROP COLUMN openings;
ALTER TABLE audit_pending DROP COLUMN form;
