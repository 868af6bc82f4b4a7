-- HL7's explicit null "" is now read as no value (hl7_fields.field_value). Results stored
-- before were read with "" as text: an OBX-4 sub-id of "" made the key ORD1|1988-5|"" (now
-- ORD1|1988-5|), and an OBX-8 of "" was stored as the flag '""' (now none). Left so, a
-- correction or cancellation of such a result would find nothing (AE), and a restatement
-- of it would be taken for a changed result. Keys and flags are written as they are now
-- read (a key whose new spelling another stored chain has is left apart, with a notice),
-- and the messages of the results changed lose their content digest, which covered the old
-- spelling (a message without one is taken as said again when resent). A key whose order
-- number was "" cannot be written again (the placer number it now takes is not stored):
-- those are counted in a notice.

DO $$
DECLARE
    left_apart bigint;
    null_orders bigint;
BEGIN
    CREATE TEMPORARY TABLE rekeyed_nulls ON COMMIT DROP AS
    SELECT DISTINCT source, result_key AS old_key,
           regexp_replace(result_key, '^([^|]*\|[^|]*\|)""(\||$)', '\1\2') AS new_key
      FROM results
     WHERE result_key ~ '^[^|]*\|[^|]*\|""(\||$)';

    CREATE TEMPORARY TABLE clashing_nulls ON COMMIT DROP AS
    SELECT k.source, k.old_key FROM rekeyed_nulls k
     WHERE EXISTS (SELECT 1 FROM results r
                    WHERE r.source = k.source AND r.result_key = k.new_key);

    CREATE TEMPORARY TABLE changed_messages (message_id uuid) ON COMMIT DROP;
    WITH moved AS (
        UPDATE results r SET result_key = k.new_key
          FROM rekeyed_nulls k
         WHERE r.source = k.source AND r.result_key = k.old_key
           AND NOT EXISTS (SELECT 1 FROM clashing_nulls c
                            WHERE c.source = k.source AND c.old_key = k.old_key)
        RETURNING r.message_id
    )
    INSERT INTO changed_messages SELECT message_id FROM moved;
    WITH flagged AS (
        UPDATE results SET abnormal_flag = NULL WHERE abnormal_flag = '""'
        RETURNING message_id
    )
    INSERT INTO changed_messages SELECT message_id FROM flagged;
    UPDATE messages SET content_digest = NULL
     WHERE message_id IN (SELECT message_id FROM changed_messages);

    SELECT count(*) INTO left_apart FROM clashing_nulls;
    SELECT count(DISTINCT (source, result_key)) INTO null_orders
      FROM results WHERE result_key LIKE '""|%';
    IF left_apart > 0 OR null_orders > 0 THEN
        RAISE NOTICE 'lab-ingestion migration 0015: % result key(s) with a sub-id of "" left '
            'as written (another stored result has the key without it); % key(s) whose order '
            'number was "" (the sender''s orders shared one key: check their chains)',
            left_apart, null_orders;
    END IF;
END $$;
