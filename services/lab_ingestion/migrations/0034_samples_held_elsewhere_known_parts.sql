-- 0033's check, as review 188 found it: a result stored before 0031 (its identifier parts
-- NULL: not known) shares nothing (another lab's CRP of another order at the same time was
-- taken for the sample's other copy, and the batch refused), and two FHIR senders' results
-- are never copies of each other (each identifier system is its sender's namespace, and
-- parts are kept without it): `fhir` tells, for each new final result, whether a FHIR token
-- sent it, and then results whose message came over FHIR are skipped (one probe of
-- messages' primary key per row found). A function of its own, beside 0033's (another
-- signature): instances not yet upgraded keep calling 0033's.
CREATE FUNCTION assert_samples_unheld(
    sources text[], subject_ids text[], analytes text[], collected timestamptz[], parts text[],
    fhir boolean[], same_sample interval
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(parts) > 0 AND EXISTS (
        SELECT 1
          FROM unnest(sources, subject_ids, analytes, collected, parts, fhir)
               AS n(source, subject_id, analyte, collected_at, part, fhir)
         CROSS JOIN LATERAL (
             SELECT 1 FROM results r
              WHERE r.subject_id = n.subject_id
                AND r.collected_at > n.collected_at - same_sample
                AND r.collected_at < n.collected_at + same_sample
                AND r.analyte = n.analyte AND r.source <> n.source
                AND r.cancelled_at IS NULL AND r.status IN ('F', 'C')
                AND n.part = ANY (r.identifier_parts)
                AND NOT (n.fhir AND EXISTS (
                    SELECT 1 FROM messages m
                     WHERE m.message_id = r.message_id AND m.channel = 'fhir'))
              LIMIT 1) AS held
    ) THEN
        RAISE EXCEPTION 'another sender holds the sample of a result the batch took for new'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
