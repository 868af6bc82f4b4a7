-- One sample's result sent over HL7 and over the lab's FHIR feed (review 181). Each sender
-- keeps its results under its own keys (HL7 `ORD7|1988-5|`, FHIR `ORD7|1988-5`), so the second
-- feed's copy was a second result, and a correction or withdrawal sent one way left the other
-- standing. The careful path reads the patient's standing results and refuses a copy
-- (``copies_elsewhere``); the fast path reads nothing, so its write checks here that no other
-- sender holds the sample of a final result it took for the only one: a standing final or
-- corrected result of the same subject and analyte, collected within `same_sample` of it,
-- whose key shares an identifier part (0031; keyed hashes), or whose parts are not known
-- (stored before 0031). Found: the batch is refused (LI409), read and planned again, and the
-- copy refused. One probe of results_by_subject (subject, collection time) per part (an
-- HL7 result's key has one: its order number), in the write's own round trip. A function of
-- its own: 0018's assert_batch_current is left as it is, for instances not yet upgraded.
CREATE FUNCTION assert_samples_unheld(
    sources text[], subject_ids text[], analytes text[], collected timestamptz[], parts text[],
    same_sample interval
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(parts) > 0 AND EXISTS (
        SELECT 1
          FROM unnest(sources, subject_ids, analytes, collected, parts)
               AS n(source, subject_id, analyte, collected_at, part)
         CROSS JOIN LATERAL (
             SELECT 1 FROM results r
              WHERE r.subject_id = n.subject_id
                AND r.collected_at > n.collected_at - same_sample
                AND r.collected_at < n.collected_at + same_sample
                AND r.analyte = n.analyte AND r.source <> n.source
                AND r.cancelled_at IS NULL AND r.status IN ('F', 'C')
                AND (r.identifier_parts IS NULL OR n.part = ANY (r.identifier_parts))
              LIMIT 1) AS held
    ) THEN
        RAISE EXCEPTION 'another sender holds the sample of a result the batch took for new'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
