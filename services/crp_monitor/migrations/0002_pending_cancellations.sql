-- A CRP cancellation (HL7 X/D) read before its result (a topic re-published after a broker
-- restart, a replay), kept until the result arrives, which is then stored cancelled. Without
-- it the cancellation was an UPDATE of nothing, marked processed, and lost: the withdrawn
-- value then stood in the series. Keyed by the subject too, so that a cancellation naming
-- another subject's result can never hide a genuine one of the same result id.
CREATE TABLE crp_pending_cancellations (
    result_id       uuid        NOT NULL,
    subject_id      text        NOT NULL,
    cancelled_at    timestamptz NOT NULL,
    source_event_id uuid        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (result_id, subject_id)
);
