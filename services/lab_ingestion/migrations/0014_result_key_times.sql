-- An HL7 result without an order number is keyed by its collection time. A time written
-- without an offset was keyed as written, so one sample resent with its time written to
-- the second (202611200700, then 20261120070000) was two results, both published, and a
-- later correction changed only one of them. Such times are now keyed in full
-- (YYYYMMDDHHMMSS, a fraction without trailing zeros: hl7_time.local_key); the stored keys
-- are written so here. A key whose new spelling another stored chain already has (the two
-- copies this defect made) is left as it was, and counted in a notice: both copies stand,
-- as before; a correction now reaches the one keyed in full. The messages of rekeyed results
-- lose their content digest (see below).

DO $$
DECLARE
    left_apart bigint;
BEGIN
    CREATE TEMPORARY TABLE rekeyed ON COMMIT DROP AS
    SELECT DISTINCT source, result_key AS old_key,
           '@' || rpad(m[1], 14, '0') || coalesce(nullif(rtrim(m[2], '0'), '.'), '') || m[3]
               AS new_key
      FROM results,
           regexp_match(result_key, '^@([0-9]{10}(?:[0-9]{2}){0,2})(\.[0-9]{1,4})?(\|.*)$') AS m
     WHERE m IS NOT NULL AND (m[2] IS NULL OR length(m[1]) = 14);

    -- a new key two old spellings share, or that a chain already has: left apart
    CREATE TEMPORARY TABLE clashing ON COMMIT DROP AS
    SELECT k.source, k.old_key FROM rekeyed k
     WHERE k.old_key <> k.new_key
       AND (EXISTS (SELECT 1 FROM rekeyed o
                     WHERE o.source = k.source AND o.new_key = k.new_key
                       AND o.old_key <> k.old_key)
            OR EXISTS (SELECT 1 FROM results r
                        WHERE r.source = k.source AND r.result_key = k.new_key));

    WITH moved AS (
        UPDATE results r SET result_key = k.new_key
          FROM rekeyed k
         WHERE r.source = k.source AND r.result_key = k.old_key AND k.old_key <> k.new_key
           AND NOT EXISTS (SELECT 1 FROM clashing c
                            WHERE c.source = k.source AND c.old_key = k.old_key)
        RETURNING r.message_id
    )
    -- a message's digest covers its results' keys: one taken with the old spelling would
    -- make a resend of it (an ACK lost during the upgrade) a reused id; a message without
    -- a digest is taken as said again, as those stored before digests were kept
    UPDATE messages SET content_digest = NULL WHERE message_id IN (SELECT message_id FROM moved);

    SELECT count(*) INTO left_apart FROM clashing;
    IF left_apart > 0 THEN
        RAISE NOTICE 'lab-ingestion migration 0014: % result key(s) left as written: another '
            'stored result of the same sample and test has the key in full', left_apart;
    END IF;
END $$;
