DROP TABLE consultation_activities;
DROP TABLE consultations;
