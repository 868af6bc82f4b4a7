-- Every CRP result received, in mg/L; corrections and cancellations are kept, not overwritten.
CREATE TABLE crp_results (
    result_id            uuid             PRIMARY KEY,
    subject_id           text             NOT NULL,
    value_mg_l           double precision NOT NULL,
    collected_at         timestamptz      NOT NULL,
    status               text             NOT NULL,
    supersedes_result_id uuid,
    cancelled_at         timestamptz,
    source_event_id      uuid             NOT NULL,
    recorded_at          timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX crp_results_subject ON crp_results (subject_id, collected_at);
