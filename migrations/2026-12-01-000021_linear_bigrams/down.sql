CREATE OR REPLACE FUNCTION cppcc_bigrams(input text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(input), i, 2)), '{}')
    FROM generate_series(1, char_length(input) - 1) AS i
$$;
