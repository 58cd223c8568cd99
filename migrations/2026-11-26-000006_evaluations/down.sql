ALTER TABLE rulings DROP CONSTRAINT rulings_one_subject;
ALTER TABLE rulings DROP CONSTRAINT rulings_subject_type_check;
DELETE FROM ruling_measures WHERE ruling_id IN (SELECT id FROM rulings WHERE evaluation_id IS NOT NULL);
DELETE FROM rulings WHERE evaluation_id IS NOT NULL;
ALTER TABLE rulings DROP COLUMN evaluation_id;
ALTER TABLE rulings ADD CONSTRAINT rulings_subject_type_check
    CHECK (subject_type IN ('consultation', 'proposal'));
ALTER TABLE rulings ADD CONSTRAINT rulings_one_subject CHECK (
    (subject_type = 'consultation') = (consultation_id IS NOT NULL)
    AND (subject_type = 'proposal') = (proposal_id IS NOT NULL));
DROP TABLE rectification_notes;
DROP TABLE rectification_items;
DROP TABLE evaluation_ratings;
DROP TABLE evaluation_visits;
DROP TABLE evaluation_evaluators;
DROP TABLE evaluations;
