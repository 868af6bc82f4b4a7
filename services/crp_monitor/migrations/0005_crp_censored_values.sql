-- A laboratory reports what it cannot measure as a limit (CRP "<5 mg/L", below its reporting
-- limit): lab.results.v1 then carries a comparator, and its value is that limit, not a
-- measurement. Stored as a plain number, "<5" read as a measured 5 mg/L (a CRP response is
-- CRP < 10 mg/L or <= 50 % of baseline: a limit must never be read as its number). NULL: a
-- measured value; every result stored before is one (censored values were refused then). The
-- comparator is part of a result's content: the same result_id with another one is a reused id.
ALTER TABLE crp_results ADD COLUMN comparator text
    CONSTRAINT crp_results_comparator_known CHECK (comparator IN ('<', '<=', '>', '>='));
