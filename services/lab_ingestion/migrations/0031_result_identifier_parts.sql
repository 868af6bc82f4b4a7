-- The identifiers a result's key is made of (review 165). A FHIR `cancelled` without a value
-- finding nothing under its token's name is left out as a test never resulted, unless the
-- patient holds a standing result of the analyte whose key shares an identifier with it,
-- under any sender (a CRP of order ORD7 stored over HL7 as `ORD7|1988-5|`, cancelled over
-- FHIR as `ORD7|1988-5`): keys are stored as keyed hashes (0019), so their parts are kept
-- beside them, each a keyed hash too (never as written), without the test's code, an HL7
-- sub-id or a FHIR identifier's system. NULL on results stored before this migration: which
-- identifiers they were keyed by is not known, and such a cancellation is refused while one
-- of the analyte stands for the patient (``fhir_cancellations``). Read by subject
-- (results_by_subject), never indexed by part.
ALTER TABLE results ADD COLUMN identifier_parts text[];
ALTER TYPE result_row ADD ATTRIBUTE identifier_parts text[];
