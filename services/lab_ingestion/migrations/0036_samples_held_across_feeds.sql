-- 0034's check, as review 192 found it: two HL7 laboratories (two allow-listed senders)
-- whose order numbers coincide were taken for one laboratory's two feeds, and the second
-- one's CRP of a sample collected within the same minute was refused as the first one's
-- copy. Each HL7 sender's order numbers are its own namespace, as each FHIR sender's
-- identifier systems are: the rule is for a lab's HL7 feed (channels 'mllp', 'hl7-http') and
-- its FHIR feed ('fhir') only. `channels` tells, for each new final result, the channel its
-- message came over, and a standing result counts only where its message came over the
-- other kind (one probe of messages' primary key per row found); a JSON result never
-- counts, nor is one checked. A function of its own, beside 0033's and 0034's (another
-- name): instances not yet upgraded keep calling theirs.
CREATE FUNCTION assert_samples_unheld_across_feeds(
    sources text[], subject_ids text[], analytes text[], collected timestamptz[], parts text[],
    channels text[], same_sample interval
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(parts) > 0 AND EXISTS (
        SELECT 1
          FROM unnest(sources, subject_ids, analytes, collected, parts, channels)
               AS n(source, subject_id, analyte, collected_at, part, channel)
         CROSS JOIN LATERAL (
             SELECT 1 FROM results r
              WHERE r.subject_id = n.subject_id
                AND r.collected_at > n.collected_at - same_sample
                AND r.collected_at < n.collected_at + same_sample
                AND r.analyte = n.analyte AND r.source <> n.source
                AND r.cancelled_at IS NULL AND r.status IN ('F', 'C')
                AND n.part = ANY (r.identifier_parts)
                AND EXISTS (
                    SELECT 1 FROM messages m
                     WHERE m.message_id = r.message_id
                       AND CASE WHEN n.channel = 'fhir' THEN m.channel IN ('mllp', 'hl7-http')
                                WHEN n.channel IN ('mllp', 'hl7-http') THEN m.channel = 'fhir'
                                ELSE false END)
              LIMIT 1) AS held
    ) THEN
        RAISE EXCEPTION 'another sender holds the sample of a result the batch took for new'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
