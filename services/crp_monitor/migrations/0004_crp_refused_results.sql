-- A correction refused because the result it names is another subject's (dead-lettered as
-- result-of-another-subject). Its id is kept: a correction of it carries that other patient's
-- value on, and is refused too (it named a result stored nowhere, and stood in its subject's
-- series), and a cancellation of it withdraws nothing that stands.
CREATE TABLE crp_refused_results (
    result_id       uuid        PRIMARY KEY,
    subject_id      text        NOT NULL,
    source_event_id uuid        NOT NULL,
    refused_at      timestamptz NOT NULL DEFAULT now()
);
