-- Every proposal list reads which proposals were merged into the ones on its page
-- (merged_into_id = ANY(page), in (merged_into_id, id) order); without this index that
-- was a scan of every proposal. Not partial: the prepared statement's generic plan must
-- be able to use it.
CREATE INDEX proposals_merged_into_idx ON proposals (merged_into_id, id);
