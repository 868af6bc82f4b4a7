-- Every name of a sender's assigning authority (review 69): one organisation's authority is
-- written differently per standard, HL7 v2's namespace HOSP, FHIR's system urn:hosp or
-- https://hosp.example.org/mrn, and a laboratory sending both was matched by one of them
-- only (its other messages refused missing-patient-identifier). `cachexia source add
-- --identifier-authority` is repeatable: the names it is given, in order, are kept here and
-- the first also in identifier_authority, as before (additive: an instance of the previous
-- version still running reads identifier_authority and matches by the first name). The names
-- count only while their first is identifier_authority: when a previous version's `source
-- add` has since replaced or forgotten it, that one name (or none) is the sender's.
ALTER TABLE sources ADD COLUMN identifier_authority_names text[] NOT NULL DEFAULT '{}';
