-- An abnormal flag is a code of HL7 table 0078 (or FHIR's ObservationInterpretation), never
-- free text (domain/abnormal_flags.py): anything else a sender wrote there (a comment, a
-- name, a hospital number) was stored and published. Stored flags are written as they are
-- now read: a table code in upper case, anything else none. Events kept in the outbox (and
-- republished after a broker loss) lose such a flag too. Content digests of messages stay:
-- they cover the flag as the sender wrote it, and a resend still writes it so.

CREATE TEMPORARY TABLE abnormal_flag_codes (code text PRIMARY KEY) ON COMMIT DROP;
INSERT INTO abnormal_flag_codes (code) VALUES
    ('<'), ('>'), ('A'), ('AA'), ('AC'), ('B'), ('CAR'), ('D'), ('DET'), ('E'), ('EX'),
    ('EXP'), ('H'), ('HH'), ('HU'), ('HX'), ('I'), ('IE'), ('IND'), ('L'), ('LL'), ('LU'),
    ('LX'), ('MS'), ('N'), ('ND'), ('NEG'), ('NR'), ('NS'), ('POS'), ('QCF'), ('R'), ('RR'),
    ('S'), ('SDD'), ('SYN-R'), ('SYN-S'), ('TOX'), ('U'), ('VS'), ('W'), ('WR');

UPDATE results
   SET abnormal_flag = CASE
       WHEN upper(btrim(abnormal_flag)) IN (SELECT code FROM abnormal_flag_codes)
       THEN upper(btrim(abnormal_flag))
   END
 WHERE abnormal_flag IS DISTINCT FROM upper(btrim(abnormal_flag))
    OR upper(btrim(abnormal_flag)) NOT IN (SELECT code FROM abnormal_flag_codes);

UPDATE outbox
   SET envelope = convert_to(
       jsonb_set(convert_from(envelope, 'UTF8')::jsonb, '{payload,abnormal_flag}', 'null')::text,
       'UTF8')
 WHERE event_type = 'LabResultRecorded'
   AND convert_from(envelope, 'UTF8')::jsonb #>> '{payload,abnormal_flag}' IS NOT NULL
   AND upper(btrim(convert_from(envelope, 'UTF8')::jsonb #>> '{payload,abnormal_flag}'))
       NOT IN (SELECT code FROM abnormal_flag_codes);
