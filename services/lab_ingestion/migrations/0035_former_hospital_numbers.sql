-- The hospital numbers (keyed hashes) a subject's enrolment named before it was corrected
-- (task 195). A correction is the subject's SubjectEnrolled published again on
-- trial.subjects.v1 with another hospital_id_hmac; the directory's row is updated in place,
-- so the old hash was forgotten, and a final or preliminary result the laboratory sent under
-- it, of an order holding the subject's result, was discarded as not enrolled (the final of
-- a stored preliminary lost). lab-ingestion's enrolment handler keeps the row's hash here
-- before the directory replaces it (``former_numbers``), with the subject's site as it was,
-- and drops it when the subject's enrolment names the number again. Only a message under a
-- number found here is read further: every other patient's message (labs send everyone's)
-- costs nothing more. A correction read before this migration left no trace: not kept.
CREATE TABLE former_hospital_numbers (
    hospital_id_hmac text        NOT NULL,
    subject_id       text        NOT NULL,
    site_id          text        NOT NULL,
    replaced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hospital_id_hmac, subject_id)
);

-- The fast path takes a number it does not know as nobody's and discards its messages
-- unread; its write checks that assumption (0018's assert_batch_current) and now also that
-- such a number is no subject's former one: if it is, the batch is refused (LI409) and read
-- again, and the read finds the former subject (one probe of the primary key per number
-- taken for nobody's, in the write's own round trip). A function of its own: instances not
-- yet upgraded keep calling 0018's alone.
CREATE FUNCTION assert_no_former_numbers(hmacs text[], subject_ids text[])
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cardinality(hmacs) > 0 AND EXISTS (
        SELECT 1 FROM unnest(hmacs, subject_ids) AS m(hmac, subject_id)
         WHERE m.subject_id IS NULL
           AND EXISTS (SELECT 1 FROM former_hospital_numbers f
                        WHERE f.hospital_id_hmac = m.hmac)
    ) THEN
        RAISE EXCEPTION 'the batch took a subject''s former number for nobody''s'
            USING ERRCODE = 'LI409';
    END IF;
    RETURN true;
END $$;
