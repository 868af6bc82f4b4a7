-- A censored value: a limit the laboratory reported instead of a measurement (<0.1
-- neutrophils below an analyser's reporting limit, >1000 ALT above its range; HL7 SN `<^0.1`,
-- a value flagged off the instrument's scale, FHIR valueQuantity.comparator). Such results
-- were refused before; now value holds the limit (in the canonical unit) and comparator the
-- relation, as lab.results.v1 publishes them. NULL: a measured value (every row stored
-- before, since censored values were refused then).
ALTER TABLE results ADD COLUMN comparator text
    CONSTRAINT results_comparator_known CHECK (comparator IN ('<', '<=', '>', '>='));
ALTER TYPE result_row ADD ATTRIBUTE comparator text;
