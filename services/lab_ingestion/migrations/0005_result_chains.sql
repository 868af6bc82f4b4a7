-- A correction or cancellation acts on the head of its result's chain: the newest standing
-- final or corrected result under the key that no standing result supersedes. A preliminary
-- result is stored but never emitted, so it no longer stands in a chain's way (after F, P, C
-- the correction supersedes the F), and results of one batch, which share their timestamps
-- closely, are ordered by supersession rather than by recorded_at alone.
CREATE INDEX results_by_superseded ON results (supersedes_result_id)
    WHERE supersedes_result_id IS NOT NULL;

-- The fast path's guard: a new final result's key must have no standing emitted result (a
-- preliminary one may stand: the final result does not supersede it).
CREATE OR REPLACE FUNCTION assert_batch_current(
    hmacs text[], subject_ids text[], sources text[], result_keys text[]
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(hmacs) > 0 AND EXISTS (
        SELECT 1 FROM unnest(hmacs, subject_ids) AS m(hmac, subject_id)
         WHERE CASE WHEN m.subject_id IS NULL
                    THEN EXISTS (SELECT 1 FROM enrolled_subjects s
                                  WHERE s.hospital_id_hmac = m.hmac AND s.withdrawn_at IS NULL)
                    ELSE NOT EXISTS (SELECT 1 FROM enrolled_subjects s
                                      WHERE s.hospital_id_hmac = m.hmac
                                        AND s.subject_id = m.subject_id
                                        AND s.withdrawn_at IS NULL)
               END
    ) THEN
        RAISE EXCEPTION 'the batch took a patient''s enrolment for what it no longer is'
            USING ERRCODE = 'LI409';
    END IF;
    -- LATERAL ... LIMIT 1: one index probe per key, never a scan of the whole table
    IF cardinality(result_keys) > 0 AND EXISTS (
        SELECT 1 FROM unnest(sources, result_keys) AS k(source, result_key)
         CROSS JOIN LATERAL (
             SELECT 1 FROM results r
              WHERE r.source = k.source AND r.result_key = k.result_key
                AND r.cancelled_at IS NULL AND r.status IN ('F', 'C')
              LIMIT 1) AS standing
    ) THEN
        RAISE EXCEPTION 'a result key of the batch has a standing result'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
