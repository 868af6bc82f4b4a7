-- HL7 senders allowed to deliver results (MSH-3 application, MSH-4 facility).
CREATE TABLE sources (
    application text        NOT NULL,
    facility    text        NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application, facility)
);

-- Every message accepted for processing, once per (source, control id): duplicates are
-- acknowledged again without being stored twice. No patient identifiers are kept.
CREATE TABLE messages (
    message_id   uuid        PRIMARY KEY,
    source       text        NOT NULL,
    control_id   text        NOT NULL,
    channel      text        NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('accepted', 'not-enrolled')),
    subject_id   text,
    result_count integer     NOT NULL,
    received_at  timestamptz NOT NULL,
    UNIQUE (source, control_id)
);

-- Normalised results of enrolled subjects, with what the lab originally sent.
CREATE TABLE results (
    result_id            uuid             PRIMARY KEY,
    message_id           uuid             NOT NULL REFERENCES messages (message_id),
    subject_id           text             NOT NULL,
    source               text             NOT NULL,
    result_key           text             NOT NULL,
    analyte              text             NOT NULL,
    loinc                text             NOT NULL,
    value                double precision,
    unit                 text,
    original_value       text             NOT NULL,
    original_unit        text             NOT NULL,
    reference_low        double precision,
    reference_high       double precision,
    abnormal_flag        text,
    status               char(1)          NOT NULL CHECK (status IN ('F', 'C', 'P')),
    collected_at         timestamptz      NOT NULL,
    reported_at          timestamptz,
    supersedes_result_id uuid,
    cancelled_at         timestamptz,
    recorded_at          timestamptz      NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX results_by_key ON results (source, result_key, recorded_at DESC);
CREATE INDEX results_by_subject ON results (subject_id, collected_at);

-- Every rejected input, kept for inspection and replay with identifying fields redacted.
CREATE TABLE rejections (
    rejection_id uuid        PRIMARY KEY,
    channel      text        NOT NULL,
    source       text,
    control_id   text,
    reason_code  text        NOT NULL,
    reason       text        NOT NULL,
    payload      text        NOT NULL,
    received_at  timestamptz NOT NULL,
    replayed_at  timestamptz
);
CREATE INDEX rejections_received ON rejections (received_at);
