-- Storing a result looks for the corrections stored earlier that name it (one under another
-- subject stands in no series and is reported): without this index, a scan of every result.
CREATE INDEX crp_results_supersedes ON crp_results (supersedes_result_id)
    WHERE supersedes_result_id IS NOT NULL;
