-- The field each result's report time (reported_at) was read from (fixer 178): HL7's OBR-22
-- (the release time), else OBX-19 (the analysis time, v2.5), JSON's reported_at or FHIR's
-- issued. Times of two fields order nothing against each other: a correction resent under a
-- new message id is told from a real one by comparing its report time with the standing
-- result's only when both were read from one field (``correction_resends``; review 177: a
-- first correction timed by OBX-19 before a final's later OBR-22 was refused as reported
-- before it). NULL: no report time, or stored before this migration (not known: such a
-- version's time is compared as every report time was before). Read with the chain's head
-- and versions by the batch read that reads them, never indexed.
ALTER TABLE results ADD COLUMN report_field text
    CONSTRAINT results_report_field_known
    CHECK (report_field IN ('OBR-22', 'OBX-19', 'JSON reported_at', 'FHIR issued'));
ALTER TYPE result_row ADD ATTRIBUTE report_field text;
