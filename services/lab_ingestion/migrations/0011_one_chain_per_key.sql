-- A result key names one result of one patient (HL7: the filler order number, the test and
-- its sub-id; a key without an order number is made the patient's). One instance never
-- stores another patient's result under a standing key (result-of-another-patient), but two
-- instances storing first results of two patients under one new key at once would each see
-- none standing, and 0009's index, per patient, let both stand. At most one standing first
-- result per key, whoever's: the second writer is refused, reads, and rejects its message.

DO $$
DECLARE
    shared_keys bigint;
BEGIN
    -- keys the index refuses (two standing first results), and keys whose standing results
    -- are several patients' (an operator who cancelled another patient's first result alone
    -- would leave its correction standing, and the key would refuse every later result)
    SELECT count(*) INTO shared_keys FROM (
        SELECT 1 FROM results
         WHERE status IN ('F', 'C') AND cancelled_at IS NULL
         GROUP BY source, result_key
        HAVING count(*) FILTER (WHERE supersedes_result_id IS NULL) > 1
            OR count(DISTINCT subject_id) > 1) AS s;
    IF shared_keys > 0 THEN
        RAISE EXCEPTION 'lab-ingestion migration 0011: % result key(s) with standing results '
            'of several patients (written by concurrent instances of an earlier version)',
            shared_keys
            USING HINT = 'Ask the lab whose result each is, set cancelled_at = now() on every '
                'version of the others (all their rows under that source and result_key) in '
                'lab_ingestion.results, and start the service again.';
    END IF;
END $$;

DROP INDEX IF EXISTS results_one_standing_root;
CREATE UNIQUE INDEX results_one_standing_root ON results (source, result_key)
    WHERE supersedes_result_id IS NULL AND status IN ('F', 'C') AND cancelled_at IS NULL;
