-- Which attempt at a batch committed (review 107). Every retry of a batch carries the same
-- token, and each attempt plans it afresh (the allow-list re-read, new result ids), so two
-- attempts can plan it differently. An attempt whose commit answer was lost keeps what it
-- planned; a later attempt cut off while waiting for that commit kept its own plan over it,
-- and the retry after both answered the plan that never committed (AA "1 result(s) stored"
-- for a batch that stored only a rejection). The write now stores its attempt's id with the
-- token, and a retry answers the plan of the attempt that committed. NULL: a row written
-- before this migration (no retry of this version's reads it).
ALTER TABLE committed_batches ADD COLUMN attempt uuid;
