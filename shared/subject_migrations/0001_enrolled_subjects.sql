-- A service's copy of the enrolled subjects (from trial.subjects.v1); no identifiers beyond
-- the subject id and the keyed hash of the hospital identifier used for patient matching.
CREATE TABLE enrolled_subjects (
    subject_id       text        PRIMARY KEY,
    site_id          text        NOT NULL,
    site_timezone    text        NOT NULL,
    hospital_id_hmac text        NOT NULL,
    day1             date        NOT NULL,
    enrolled_at      timestamptz NOT NULL,
    withdrawn_at     timestamptz
);
CREATE INDEX enrolled_subjects_hmac ON enrolled_subjects (hospital_id_hmac);
