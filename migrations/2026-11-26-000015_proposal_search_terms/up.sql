-- Proposals are searched through their bigrams as a tsvector, not a text array: testing a
-- row is then a binary search per bigram of the query instead of a comparison with every
-- bigram of the proposal, which is what a search that walks the proposals in page order
-- (a common term) spends its time on. The GIN index serves rare terms as before.

-- The query matching every text that contains all the bigrams of `input`: each bigram a
-- quoted lexeme (quotes and backslashes escaped), so no character of the input is read
-- as a tsquery operator. NULL for an input shorter than two characters (no bigram).
CREATE FUNCTION cppcc_bigram_query(input text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT string_agg(
        '''' || replace(replace(bigram, '\', '\\'), '''', '''''') || '''', ' & ')::tsquery
    FROM unnest(cppcc_bigrams(input)) AS bigram
$$;

ALTER TABLE proposals DROP COLUMN search_bigrams;
ALTER TABLE proposals ADD COLUMN search_terms tsvector
    GENERATED ALWAYS AS (array_to_tsvector(cppcc_bigrams(title || ' ' || body))) STORED;
CREATE INDEX proposals_search_idx ON proposals USING gin (search_terms);
