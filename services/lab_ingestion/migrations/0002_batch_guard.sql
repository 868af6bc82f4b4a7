-- Guard of a batch planned without reading the database first (the fast path of ingestion).
-- Such a batch assumed which hashed identifiers belong to enrolled subjects and that none of
-- its result keys has a standing result; the batch's write statement calls this function,
-- and a batch whose assumptions no longer hold is refused as a whole (SQLSTATE LI409) and
-- planned again from a fresh read. STABLE: it sees the data as of the start of the write,
-- not the rows the write itself is inserting.
CREATE FUNCTION assert_batch_current(
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
                AND r.cancelled_at IS NULL
              LIMIT 1) AS standing
    ) THEN
        RAISE EXCEPTION 'a result key of the batch has a standing result'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
