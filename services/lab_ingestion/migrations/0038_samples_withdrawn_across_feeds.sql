-- 0036's check, as review 202 found it: the lab's other feed's late copy of a withdrawn
-- result was stored and published again (HL7 F 12, HL7 W, then the FHIR final 12 on the fast
-- path: 0036 looks at standing results only, `r.cancelled_at IS NULL`). A withdrawn result
-- stays withdrawn across the feeds as over one: the careful path refuses a final result
-- saying what the other feed's withdrawn final or corrected result of the sample said
-- (``copy_outcomes``). This check finds the other feed's final or corrected results of the
-- sample standing or withdrawn alike, and sends the batch to the careful path (LI409), which
-- reads them and decides (another value is stored there as a new result). The same probes as
-- 0036's. A function of its own, beside 0033's, 0034's and 0036's (another name): instances
-- not yet upgraded keep calling theirs.
CREATE FUNCTION assert_samples_never_held_across_feeds(
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
                AND r.status IN ('F', 'C')
                AND n.part = ANY (r.identifier_parts)
                AND EXISTS (
                    SELECT 1 FROM messages m
                     WHERE m.message_id = r.message_id
                       AND CASE WHEN n.channel = 'fhir' THEN m.channel IN ('mllp', 'hl7-http')
                                WHEN n.channel IN ('mllp', 'hl7-http') THEN m.channel = 'fhir'
                                ELSE false END)
              LIMIT 1) AS held
    ) THEN
        RAISE EXCEPTION 'another sender holds or held the sample of a result the batch took for new'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
