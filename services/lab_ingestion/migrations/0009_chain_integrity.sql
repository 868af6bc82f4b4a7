-- A result's chain (its final result, then each correction superseding the one before) stays
-- one line even when several instances of this service write at once (scaled out on Apache
-- Kafka). Each instance plans a batch from what it read; two instances correcting the same
-- result at the same moment would each supersede the same head, and two first results under
-- one key would both stand. Batches that change chains are serialised (an advisory lock, see
-- the repository); these indexes make the database refuse a fork whatever happens, and the
-- refused batch is planned again from a fresh read.

-- Chains forked by concurrent instances of an earlier version cannot be repaired here: which
-- version stands is the lab's decision. Stop with what to do rather than fail on the index.
DO $$
DECLARE
    forked bigint;
    doubled bigint;
BEGIN
    SELECT count(*) INTO forked FROM (
        SELECT 1 FROM results
         WHERE supersedes_result_id IS NOT NULL AND status IN ('F', 'C') AND cancelled_at IS NULL
         GROUP BY supersedes_result_id HAVING count(*) > 1) AS f;
    SELECT count(*) INTO doubled FROM (
        SELECT 1 FROM results
         WHERE supersedes_result_id IS NULL AND status IN ('F', 'C') AND cancelled_at IS NULL
         GROUP BY source, result_key, subject_id HAVING count(*) > 1) AS d;
    IF forked > 0 OR doubled > 0 THEN
        RAISE EXCEPTION 'lab-ingestion migration 0009: % result(s) superseded by several standing '
            'versions and % chain(s) with several standing first results (written by concurrent '
            'instances of an earlier version)', forked, doubled
            USING HINT = 'Ask the lab which version stands, set cancelled_at = now() on the '
                'others in lab_ingestion.results, and start the service again.';
    END IF;
END $$;

-- A result is superseded by at most one standing final or corrected result (a preliminary
-- result names the head it follows but heads nothing; a cancelled version no longer stands:
-- earlier versions withdrew a deleted correction alone, and its original then stood again).
CREATE UNIQUE INDEX results_superseded_once ON results (supersedes_result_id)
    WHERE supersedes_result_id IS NOT NULL AND status IN ('F', 'C') AND cancelled_at IS NULL;

-- A chain (a patient's results under one key, as a cancellation withdraws them) has at most
-- one standing first result: a later final result under the key supersedes the head, and one
-- after a cancellation starts a new chain (the old one is cancelled).
CREATE UNIQUE INDEX results_one_standing_root ON results (source, result_key, subject_id)
    WHERE supersedes_result_id IS NULL AND status IN ('F', 'C') AND cancelled_at IS NULL;
