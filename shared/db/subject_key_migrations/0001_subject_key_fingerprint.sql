-- The fingerprint of the patient-matching key this platform's data is hashed with: an
-- HMAC-SHA256 of a fixed label under the key (shared/key_fingerprint.py), never the key.
-- One row, written by the first process that uses the key on this database; every process
-- that hashes hospital identifiers compares its key's fingerprint with it and stops on a
-- difference (a process with another key would match no enrolment, silently).
CREATE TABLE subject_key_fingerprint (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
