DROP TABLE workflow_steps;
DROP TABLE proposal_cosigners;
DROP TABLE proposal_number_counters;
DROP TABLE proposals;
DROP FUNCTION cppcc_bigrams(text);
DROP TABLE proposal_categories;
