-- A FHIR result's other identifiers (review 121). FHIR gives Observation.identifier no
-- order: a result is keyed by one of its identifiers chosen whatever their order, and its
-- other identifiers are kept here, each naming the key the result is stored under, so that
-- a later version (a resend, correction or withdrawal) naming it by any of them finds it.
-- Both are keyed hashes, as result keys are stored (migration 0019): never as written (lab
-- systems build ids from the patient's name, birth date or visit number).
CREATE TABLE result_identifiers (
    source         text NOT NULL,
    identifier_key text NOT NULL CONSTRAINT result_identifiers_identifier_hashed
        CHECK (identifier_key ~ '^#[0-9a-f]{32}$'),
    result_key     text NOT NULL CONSTRAINT result_identifiers_result_key_hashed
        CHECK (result_key ~ '^#[0-9a-f]{32}$'),
    PRIMARY KEY (source, identifier_key)
);
