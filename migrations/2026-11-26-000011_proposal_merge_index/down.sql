DROP INDEX proposals_merged_into_idx;
