-- Every proposal list reads which proposals were merged into the ones on its page
-- (merged_into_id = ANY(page)); without this index that was a scan of every proposal.
CREATE INDEX proposals_merged_into_idx ON proposals (merged_into_id)
    WHERE merged_into_id IS NOT NULL;
