ALTER TABLE proposals DROP COLUMN search_terms;
ALTER TABLE proposals ADD COLUMN search_bigrams text[]
    GENERATED ALWAYS AS (cppcc_bigrams(title || ' ' || body)) STORED;
CREATE INDEX proposals_search_idx ON proposals USING gin (search_bigrams);
DROP FUNCTION cppcc_bigram_query(text);
