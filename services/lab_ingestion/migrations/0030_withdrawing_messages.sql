-- Which message withdrew a result (review 156). A withdrawal only set cancelled_at, so
-- `cachexia message show` of a cancellation that withdrew a CRP and of one sent under an
-- order number that never held a result (the CRP left standing, counted toward the dose)
-- read alike: support could not say whether the lab's cancellation was applied.
--
-- cancelled_by_message: the message whose cancellation (HL7 OBX-11 X, D or W; FHIR
-- cancelled or entered-in-error; JSON cancelled or entered-in-error) withdrew the result,
-- set by the very statement that sets cancelled_at, so that it names the one writer that
-- withdrew it even when several instances write at once. NULL while the result stands, and
-- on results withdrawn before this migration or by hand (which message did is not known).
ALTER TABLE results ADD COLUMN cancelled_by_message uuid
    CONSTRAINT results_cancelled_by_message_fkey REFERENCES messages (message_id)
    CONSTRAINT results_cancelled_by_message_withdrawn
        CHECK (cancelled_by_message IS NULL OR cancelled_at IS NOT NULL);
ALTER TYPE result_row ADD ATTRIBUTE cancelled_by_message uuid;
-- what a message withdrew, looked up by `message show` (and by the foreign key's checks)
CREATE INDEX results_by_withdrawing_message ON results (cancelled_by_message)
    WHERE cancelled_by_message IS NOT NULL;

-- How many of a message's trial results asked to withdraw one, as the lab sent them (the
-- statuses above), whether or not they found anything to withdraw: a cancellation that
-- withdrew nothing is told as such. NULL for messages stored before this migration.
ALTER TABLE messages ADD COLUMN cancellations integer
    CONSTRAINT messages_cancellations_counted CHECK (cancellations >= 0);
ALTER TYPE message_row ADD ATTRIBUTE cancellations integer;
