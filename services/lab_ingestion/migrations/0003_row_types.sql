-- Row types of the batch write: it passes one array of rows per table instead of one array
-- per column. Fewer, typed parameters are easier to read, and the client encodes a row per
-- element instead of checking every column value of every row as a possible nested array.
-- Field order is the column order of the write's INSERT lists (adapters/repository.py).
CREATE TYPE message_row AS (
    message_id   uuid,
    source       text,
    control_id   text,
    channel      text,
    outcome      text,
    subject_id   text,
    result_count integer,
    received_at  timestamptz
);

CREATE TYPE result_row AS (
    result_id            uuid,
    message_id           uuid,
    subject_id           text,
    source               text,
    result_key           text,
    analyte              text,
    loinc                text,
    value                double precision,
    unit                 text,
    original_value       text,
    original_unit        text,
    reference_low        double precision,
    reference_high       double precision,
    abnormal_flag        text,
    status               text,
    collected_at         timestamptz,
    reported_at          timestamptz,
    supersedes_result_id uuid,
    cancelled_at         timestamptz
);

CREATE TYPE rejection_row AS (
    rejection_id uuid,
    channel      text,
    source       text,
    control_id   text,
    reason_code  text,
    reason       text,
    payload      text,
    received_at  timestamptz
);
