-- A proposal's search bigrams in one pass over its characters. The first version took
-- substr(lower(input), i, 2) for every i: each call walks the text from its start, so a
-- full-length body (20,000 characters, more so beyond the Basic Multilingual Plane) ran
-- past the statement timeout and could never be stored. The pairs are the same.
CREATE OR REPLACE FUNCTION cppcc_bigrams(input text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT pair), '{}')
    FROM (
        SELECT ch || lead(ch) OVER (ORDER BY n) AS pair
        FROM unnest(regexp_split_to_array(lower(input), '')) WITH ORDINALITY AS t (ch, n)
    ) AS pairs
    WHERE pair IS NOT NULL
$$;
