-- A key that holds any result, a preliminary one too, is read before it is written (review
-- 44): a batch on the careful path that cancels a patient's preliminary result withdraws the
-- patient's whole chain under the key, and a final result another instance stored there on
-- the fast path between that batch's read and its write would be withdrawn with it, without
-- the cancellation event its consumers need. The fast path's guard now refuses a batch that
-- took a result key for new when it holds any result, standing or withdrawn, of any patient:
-- the batch is planned again from a read, under the chain lock, after the cancellation.
-- Keys that never held one, nearly every key, pass as before. (0017's guard, otherwise the
-- same; its signature is kept.)
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
              LIMIT 1) AS held
    ) THEN
        RAISE EXCEPTION 'a result key of the batch holds a result, standing or withdrawn'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
