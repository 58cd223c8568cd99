DROP TABLE ruling_measures;
DROP TABLE rulings;
