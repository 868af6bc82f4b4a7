-- A laboratory's FHIR feed is the one its token is bound to (fixer 212). The cross-feed copy
-- rule (0036, 0038) compared a FHIR result with every HL7 sender's: a FHIR identifier cannot
-- say which HL7 laboratory it belongs to, so a second laboratory's CRP of the same patient
-- under a coinciding order number within a minute was left out as the first one's copy, or
-- refused. But a FHIR push is made with a lab token, and a token bound to one HL7 sender
-- (`token create --sender LAB1^F1`) is that laboratory's FHIR feed.
--
-- feed_of: the HL7 sender (APPLICATION^FACILITY, as results.source) whose laboratory a FHIR
-- message's results are from: the one sender its token was bound to when it was stored (a
-- token revoked, or replaced by one of its name bound elsewhere, changes nothing stored).
-- NULL for every other message: HL7 and JSON ones, a FHIR one of a token bound to no HL7
-- sender (unbound, or bound to `<token name>^FHIR`), and every message stored before this
-- migration or by an instance not yet upgraded (whose INSERT names no such column): those
-- keep the rule of comparing with every HL7 sender. No default: adding it rewrites nothing.
ALTER TABLE messages ADD COLUMN feed_of text;

-- 0038's check, with each new result's feed (`feeds`: a FHIR result's token's bound HL7
-- sender, else NULL): a FHIR result counts another sender's HL7 result only where it is bound
-- to no HL7 sender or to that result's sender, and an HL7 result counts a FHIR result only
-- where that one's message was bound to no HL7 sender (feed_of NULL) or to its own sender.
-- Otherwise the same probes as 0038's (messages' primary key, already read for the channel).
-- A function of its own, beside 0033's, 0034's, 0036's and 0038's (another name): instances
-- not yet upgraded keep calling theirs (which compare every HL7 sender's, as before).
CREATE FUNCTION assert_samples_never_held_across_bound_feeds(
    sources text[], subject_ids text[], analytes text[], collected timestamptz[], parts text[],
    channels text[], feeds text[], same_sample interval
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(parts) > 0 AND EXISTS (
        SELECT 1
          FROM unnest(sources, subject_ids, analytes, collected, parts, channels, feeds)
               AS n(source, subject_id, analyte, collected_at, part, channel, feed)
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
                       AND CASE WHEN n.channel = 'fhir'
                                THEN m.channel IN ('mllp', 'hl7-http')
                                     AND (n.feed IS NULL OR n.feed = r.source)
                                WHEN n.channel IN ('mllp', 'hl7-http')
                                THEN m.channel = 'fhir'
                                     AND (m.feed_of IS NULL OR m.feed_of = n.source)
                                ELSE false END)
              LIMIT 1) AS held
    ) THEN
        RAISE EXCEPTION 'another sender holds or held the sample of a result the batch took for new'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
