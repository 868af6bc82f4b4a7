-- A subject withdrawn from the trial: a message about their identifier may still be theirs
-- (a correction or cancellation of an earlier result, a sample collected before the
-- withdrawal), even when another subject is enrolled under it now, and only a read can tell.
-- The fast path's guard now refuses any batch that assumed something of an identifier a
-- withdrawn subject was enrolled under, and it is planned again from a read that sees them
-- (0007's guard, otherwise the same).
CREATE OR REPLACE FUNCTION assert_batch_current(
    hmacs text[], subject_ids text[], site_ids text[], sources text[], result_keys text[]
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(hmacs) > 0 AND EXISTS (
        SELECT 1 FROM unnest(hmacs, subject_ids, site_ids) AS m(hmac, subject_id, site_id)
         WHERE (SELECT array_agg(ARRAY[s.subject_id, s.site_id] ORDER BY s.subject_id)
                  FROM enrolled_subjects s
                 WHERE s.hospital_id_hmac = m.hmac AND s.withdrawn_at IS NULL)
               IS DISTINCT FROM
               CASE WHEN m.subject_id IS NULL THEN NULL
                    ELSE ARRAY[ARRAY[m.subject_id, m.site_id]] END
            OR EXISTS (SELECT 1 FROM enrolled_subjects w
                        WHERE w.hospital_id_hmac = m.hmac AND w.withdrawn_at IS NOT NULL)
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
